"""The documentation site builds without a warning, lists every page, and the README's links into it resolve.

`mkdocs build --strict` fails on a broken link or anchor between pages, a page missing from mkdocs.yml's
nav or a nav entry without its page (mkdocs.yml turns each of those checks to a warning; strict makes a
warning fatal). The README sits outside docs/, so its links are checked here against the built site.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def mkdocs_config() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def nav_pages(nav) -> list[str]:
    """Every page file the nav names, at any depth."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_pages(value)]
    return [page for item in nav for page in nav_pages(item)]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("mkdocs", reason="mkdocs is in the dev extra: pip install -e '.[dev]'")
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                          str(ROOT / "mkdocs.yml"), "--site-dir", str(out)], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    return out


def test_the_site_builds_strictly(site):
    assert (site / "index.html").is_file()


def test_strict_mode_and_link_validation_are_on():
    config = mkdocs_config()
    assert config["strict"] is True and config["docs_dir"] == "docs"
    validation = config["validation"]
    assert validation["nav"] == {"omitted_files": "warn", "not_found": "warn", "absolute_links": "warn"}
    assert {validation["links"][k] for k in ("not_found", "anchors", "unrecognized_links")} == {"warn"}


def test_the_nav_lists_every_page_once():
    pages = nav_pages(mkdocs_config()["nav"])
    assert sorted(pages) == sorted(p.name for p in DOCS.glob("*.md")) and len(set(pages)) == len(pages)


def test_every_page_is_built_with_its_images(site):
    for page in DOCS.glob("*.md"):
        built = site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), page.name
        for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text()):
            assert (page.parent / image).is_file(), f"{page.name}: image {image} is missing"


def readme_links() -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", (ROOT / "README.md").read_text())


def test_the_readme_links_into_the_docs_resolve(site):
    links = [link for link in readme_links() if link.startswith("docs/")]
    assert len(links) >= 10
    for link in links:
        path, _, anchor = link.partition("#")
        assert (ROOT / path).is_file(), f"README links to {path}, which does not exist"
        if anchor:
            page = Path(path).relative_to("docs")
            built = site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
            assert f'id="{anchor}"' in built.read_text(), f"README links to {link}: no such heading"


def test_the_readme_images_and_local_links_resolve():
    for link in readme_links():
        if not re.match(r"[a-z]+://", link) and not link.startswith("#"):
            assert (ROOT / link.partition("#")[0]).exists(), f"README links to {link}, which does not exist"
