"""Image checks: what exactly runs (IMG-01)."""

from compliance import imageref
from compliance.model import Subject
from compliance.outcomes import Finding, failed, not_applicable, passed, undecided


def image_pinned(subject: Subject, floating_tags) -> Finding:
    """IMG-01 of a container or declared service: its image reference is pinned. A declared
    service without `image:` is built from its Dockerfile (compose accepts no service with
    neither), so the image it runs is built here, not pulled."""
    if subject.declared and not subject.image_ref:
        return not_applicable(f"service {subject.service!r} is built from its Dockerfile "
                              "(build: without image:); the live audit judges the image it runs")
    return pinned_reference(subject.image_ref, floating_tags)


def pinned_reference(reference: str, floating_tags) -> Finding:
    """IMG-01: the reference names an exact version tag or a digest. A tag without a digit
    (`apache`, `alpine`, `mainline`, `bookworm`) names a variant, which moves with every
    release of it, so it floats whatever the policy's list says."""
    evidence = f"image={reference}"
    try:
        ref = imageref.parse(reference)
    except ValueError as exc:
        return undecided(str(exc))
    if ref.digest:
        return passed(f"{evidence} (pinned by digest)")
    if ref.is_image_id:
        return passed(f"{evidence} (pinned by image ID)")
    if ref.tag is None:
        return failed("should name an exact version tag or a digest", f"{evidence} (no tag)")
    floating = {"latest", *(t.lower() for t in floating_tags)}
    if ref.tag.lower() in floating:
        return failed("should name an exact version tag or a digest, not a floating tag",
                      f"{evidence} (tag {ref.tag!r} floats)")
    if not any(c.isdigit() for c in ref.tag):
        return failed("should name an exact version tag or a digest, not a variant",
                      f"{evidence} (tag {ref.tag!r} has no version number: it names a variant "
                      "and floats)")
    return passed(f"{evidence} (tag {ref.tag!r})")
