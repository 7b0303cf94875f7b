"""A product version names its hub image: the build's content tag, the buildspec's tag, the
templates that carry it, and the repository's lifecycle policy that never expires it.

Proves: Python and the buildspec's own shell command give the same tag for the same files; a
changed file of the image changes both product templates; no rule of the lifecycle policy can
select a tagged image. Does not prove: ECR's evaluation of the policy (no ECR here) or that the
image builds (no Docker engine here).
"""

from __future__ import annotations

import shutil
import subprocess

import yaml

from generator.cfn import names
from generator.engine.build import render
from generator.engine.registry import discover
from products.hub_image import content

BUILDSPEC = content.FOLDER / "buildspec.yml"


def _buildspec_tag_command() -> str:
    commands = yaml.safe_load(BUILDSPEC.read_text())["phases"]["pre_build"]["commands"]
    (command,) = [c for c in commands if c.startswith("TAG=")]
    return command


def _copy(tmp_path):
    folder = tmp_path / "hub_image"
    shutil.copytree(content.FOLDER, folder, ignore=shutil.ignore_patterns(*content.IGNORED))
    return folder


def test_the_build_tag_is_the_tag_the_buildspec_computes(tmp_path):
    folder = _copy(tmp_path)
    script = f'set -euo pipefail\n{_buildspec_tag_command()}\necho "$TAG"\n'
    result = subprocess.run(
        ["bash", "-c", script], cwd=folder, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == content.image_tag()
    assert content.content_tag(content.source_files(folder)) == content.image_tag()
    assert content.image_tag().startswith("src-") and len(content.image_tag()) == 20


def _product_templates(portfolio) -> dict[str, str]:
    return {p.key: render(p.build(portfolio)) for p, _ in discover().configured(portfolio)}


def test_a_changed_image_file_changes_every_product_template(example, tmp_path, monkeypatch):
    before = _product_templates(example)
    folder = _copy(tmp_path)
    requirements = folder / "requirements.txt"
    requirements.write_text(requirements.read_text() + "# one more line\n")
    monkeypatch.setattr(content, "FOLDER", folder)
    content.image_tag.cache_clear()
    try:
        edited_tag = content.image_tag()
        after = _product_templates(example)
    finally:
        monkeypatch.undo()
        content.image_tag.cache_clear()
    assert edited_tag != content.image_tag()
    assert sorted(after) == sorted(before) == ["personal-hub", "shared-hub"]
    for key in before:
        assert after[key] != before[key], key
        assert edited_tag in after[key] and content.image_tag() not in after[key], key


def test_templates_name_the_tag_and_never_read_the_latest_build(example):
    tag = content.image_tag()
    for key, text in _product_templates(example).items():
        assert tag in text, key
        assert names.HUB_IMAGE_TAG_PARAMETER not in text, key


def test_the_image_build_tags_each_architecture_of_the_list():
    text = BUILDSPEC.read_text()
    assert 'put-image --repository-name "${REPOSITORY_NAME}" --image-tag "${TAG}-${arch}"' in text
