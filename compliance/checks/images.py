"""Image checks: what exactly runs (IMG-01)."""

from dataclasses import replace

from compliance import imageref
from compliance.model import Subject
from compliance.outcomes import Finding, failed, not_applicable, passed, undecided, worst


def image_pinned(subject: Subject, floating_tags) -> Finding:
    """IMG-01 of a container or declared service: its image reference is pinned, and a
    declared `build:` service's Dockerfile builds on pinned images only (its `image:`, if
    any, names what compose tags the build; the FROMs are what it is made of)."""
    if subject.declared and subject.bases is not None:
        named = [pinned_reference(subject.image_ref, floating_tags)] if subject.image_ref else []
        return _combined(named, subject.bases, floating_tags)
    if subject.declared and not subject.image_ref:
        return not_applicable(f"service {subject.service!r} is built from a Dockerfile this "
                              "audit cannot read (a remote or inline build context); the live "
                              "audit judges the image it runs")
    return pinned_reference(subject.image_ref, floating_tags)


def _combined(named: list[Finding], bases, floating_tags) -> Finding:
    """One finding for an image and the bases it is built on, each base judged as an image
    reference and named by its line: failing (or undecided) where any is, located at the
    line of the first that is."""
    findings = [*named]
    for base in bases:
        judged = (pinned_reference(base.reference, floating_tags) if base.reference else
                  undecided(f"{base.instruction} {base.written} ({base.location}): an ARG it "
                            "names has no value (no default, no build.args)", "unresolved"))
        written = f"{base.written} " if base.written != base.reference else ""
        findings.append(Finding(judged.outcome, f"{base.location} {base.instruction} {written}"
                                f"{judged.evidence}", judged.message, base.location))
    if not findings:
        return passed("no base image: every stage built is FROM scratch")
    combined = worst(findings)
    if combined.outcome == "passed":
        return combined
    return replace(combined, location=next(f.location for f in findings
                                           if f.outcome == combined.outcome))


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
