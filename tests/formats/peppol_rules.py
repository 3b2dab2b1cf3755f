"""Validation of UBL documents against the vendored official files (see tests/data/peppol/SOURCE.md).

- XSD: the OASIS UBL 2.1 schemas (lxml).
- Schematron: the CEN EN 16931 UBL rules and the Peppol BIS Billing 3.0 rules, as XSLT compiled
  from the official .sch files (SchXslt), run with Saxon-HE (saxonche). Their output is SVRL;
  a ``failed-assert`` with ``flag="fatal"`` is an error, ``flag="warning"`` a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree

DATA = Path(__file__).parent.parent / "data" / "peppol"
SVRL = "http://purl.oclc.org/dsdl/svrl"
RULE_FILES = ("CEN-EN16931-UBL.xsl", "PEPPOL-EN16931-UBL.xsl")


@dataclass(frozen=True)
class Finding:
    rule_file: str
    id: str
    flag: str
    text: str
    location: str


@cache
def _schema(root_name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(DATA / "ubl-2.1" / "maindoc" / f"UBL-{root_name}-2.1.xsd")))


def xsd_errors(xml: bytes) -> list[str]:
    document = etree.fromstring(xml)
    schema = _schema(etree.QName(document).localname)
    if schema.validate(document):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


@cache
def _processor() -> object:
    from saxonche import PySaxonProcessor

    return PySaxonProcessor(license=False)


@cache
def _executable(rule_file: str) -> object:
    processor = _processor()
    xslt = processor.new_xslt30_processor()  # type: ignore[attr-defined]
    return xslt.compile_stylesheet(stylesheet_file=str(DATA / "schematron" / rule_file))


def schematron_findings(xml: bytes) -> list[Finding]:
    processor = _processor()
    findings = []
    for rule_file in RULE_FILES:
        node = processor.parse_xml(xml_text=xml.decode("utf-8"))  # type: ignore[attr-defined]
        report = _executable(rule_file).transform_to_string(xdm_node=node)  # type: ignore[attr-defined]
        svrl = etree.fromstring(report.encode("utf-8"))
        for failed in svrl.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
            text = " ".join("".join(failed.itertext()).split())
            findings.append(
                Finding(rule_file, failed.get("id", ""), failed.get("flag", ""), text, failed.get("location", ""))
            )
    return findings


def fatal(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.flag != "warning"]
