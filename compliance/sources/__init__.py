"""Where facts come from: each source builds model objects and none judges them."""
