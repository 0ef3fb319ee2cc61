"""What reaches the report and the generated files is safe, and no user text is ever evaluated.

* The packages are scanned as syntax trees (not grepped, so comments and strings do not count):
  no ``eval``/``exec``/``compile`` builtin, no ``pickle``/``marshal`` loads, no shell; every
  ``yaml.load`` names a SafeLoader subclass; every ``sympify`` passes ``strict=True`` (a string
  given to a non-strict ``sympify`` is parsed with ``eval``).
* Markup in every string that reaches the demo's HTML report, or the DSE summary page, comes out
  escaped: the page parses to the same elements whatever the names.
* A generated kernel carries no machine path (output folder, checkout, home, temporary folder).
"""
from __future__ import annotations

import ast
import os
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("accelerators", "archmodel", "codegen", "verification", "dse", "moearch", "rtl_templates")
MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>'\"&"
SAFE_LOADERS = {"SafeLoader", "CSafeLoader", "UniqueKeyLoader"}


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return ""


def _unsafe_calls(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        last = name.rsplit(".", 1)[-1]
        keywords = {k.arg: k.value for k in node.keywords}
        if name in ("eval", "exec", "compile", "__import__", "os.system", "os.popen"):
            found.append((node.lineno, name))
        elif name.split(".")[0] in ("pickle", "marshal", "shelve", "dill") and last.startswith("load"):
            found.append((node.lineno, name))
        elif last == "sympify" and not (isinstance(keywords.get("strict"), ast.Constant)
                                        and keywords["strict"].value is True):
            found.append((node.lineno, f"{name} without strict=True"))
        elif name in ("yaml.load", "yaml.load_all") and _name(keywords.get("Loader", ast.Name("?"))).rsplit(
                ".", 1)[-1] not in SAFE_LOADERS:
            found.append((node.lineno, f"{name} without a safe Loader"))
        elif "shell" in keywords and not (isinstance(keywords["shell"], ast.Constant)
                                          and keywords["shell"].value is False):
            found.append((node.lineno, f"{name}(shell=...)"))
    return found


def test_the_scan_finds_what_it_looks_for() -> None:
    probe = ast.parse("eval(x)\nsp.sympify(s)\nsympify(s, strict=True)\nyaml.load(t)\n"
                      "yaml.load(t, Loader=yaml.FullLoader)\nyaml.load(t, Loader=UniqueKeyLoader)\n"
                      "subprocess.run(c, shell=True)\npickle.loads(b)\n")
    assert [line for line, _ in _unsafe_calls(probe)] == [1, 2, 4, 5, 7, 8]


def test_no_user_text_is_evaluated() -> None:
    sources = _sources()
    assert len(sources) > 100
    problems = [f"{path.relative_to(REPO)}:{line}: {what}" for path in sources
                for line, what in _unsafe_calls(ast.parse(path.read_text(encoding="utf-8"), str(path)))]
    assert not problems, "\n".join(problems)


def test_our_yaml_loader_is_a_safe_loader() -> None:
    from accelerators.yaml_loader import UniqueKeyLoader

    assert issubclass(UniqueKeyLoader, yaml.SafeLoader)
    with pytest.raises(yaml.YAMLError):
        yaml.load("!!python/object/apply:os.system ['true']", Loader=UniqueKeyLoader)  # noqa: S506


class _Elements(HTMLParser):
    """The start tags and attribute names of a page (what markup would add to)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.update(name for name, _ in attrs)


def _elements(page: str) -> _Elements:
    parser = _Elements()
    parser.feed(page)
    return parser


def _demo_page(text: str, png: Path) -> str:
    from moearch.demo import report

    section = report.Section("devices", text, intro=text)
    section.text(text).text(text, note=True)
    section.table(report.Table([text, "value"], [[text, 1.5], [text, True]], caption=text))
    section.kpis([(text, text)])
    section.image(png, alt=text)
    return report.render(text, text, [section])


def test_markup_in_names_is_escaped_in_the_demo_report(tmp_path: Path) -> None:
    png = tmp_path / "one.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    plain, marked = _elements(_demo_page("name", png)), _elements(_demo_page(MARKUP, png))
    assert marked.tags == plain.tags
    assert marked.attributes == plain.attributes
    assert "<script>" not in _demo_page(MARKUP, png)


def test_markup_is_escaped_in_the_dse_summary_page() -> None:
    from dse.report import markdown_to_html

    def page(text: str) -> str:
        return markdown_to_html(f"# {text}\n\n{text}\n\n| {text} | b |\n|---|---|\n| {text} | 2 |\n\n"
                                f"![{text}]({text}.png)\n", text)

    plain, marked = _elements(page("name")), _elements(page(MARKUP))
    assert marked.tags == plain.tags
    assert marked.attributes == plain.attributes


def test_a_generated_kernel_carries_no_machine_path(tmp_path: Path) -> None:
    pytest.importorskip("amaranth")
    from codegen.generate import generate_kernel
    from codegen.spec import KernelSpec

    out = tmp_path / "kernel"
    spec = KernelSpec(tokens=4, hidden=16, ffn=32, experts=4, top_k=2, pe_rows=4, pe_cols=4)
    generate_kernel(spec, out, rtl=True)
    # this machine's own paths: the output folder, the checkout and the folder holding it, home, temp
    machine = {str(tmp_path), str(REPO), str(REPO.parent), os.path.expanduser("~"), tempfile.gettempdir()}
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".v" for p in files) and any(p.suffix == ".cpp" for p in files)
    leaks = [f"{p.relative_to(out)}: {m}" for p in files for m in machine
             if m in p.read_text(encoding="utf-8", errors="replace")]
    assert not leaks, leaks
