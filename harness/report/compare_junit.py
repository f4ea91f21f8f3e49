"""JUnit XML for a comparison: one test case per gate metric, so CI shows a regression like a failed test."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.capacity.compare import Outcome
from harness.comparison.model import Comparison

__all__ = ["comparison_junit"]


def comparison_junit(result: Comparison) -> str:
    """A suite 'compare NEW vs BASE' with a case per gate metric (regressed: failure; undecided: skipped)."""
    gated = [m for m in result.metrics if m.gate]
    failures = sum(m.outcome is Outcome.REGRESSED for m in gated)
    skipped = sum(m.outcome in {Outcome.INCONCLUSIVE, Outcome.TOO_FEW} for m in gated)
    suites = ET.Element("testsuites", name="harness compare")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"compare {result.new.label} vs {result.base.label}",
        tests=str(len(gated)),
        failures=str(failures),
        skipped=str(skipped),
        errors="0",
    )
    for m in gated:
        case = ET.SubElement(suite, "testcase", classname="harness.compare", name=m.metric)
        if m.outcome is Outcome.REGRESSED:
            ET.SubElement(case, "failure", message=m.sentence).text = m.sentence
        elif m.outcome in {Outcome.INCONCLUSIVE, Outcome.TOO_FEW}:
            ET.SubElement(case, "skipped", message=m.sentence)
    suites.attrib.update(tests=str(len(gated)), failures=str(failures), skipped=str(skipped), errors="0")
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
