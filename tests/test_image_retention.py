"""No image disappears under a hub: the repository's lifecycle keeps every image with an in-use
tag, and the publisher keeps exactly the live versions' images tagged.

ECR's lifecycle runs only in AWS, so the policy document is evaluated here by `expired`, which
follows ECR's documented rules (Lifecycle policy properties and evaluation rules, Amazon ECR User
Guide): rules apply by priority; an image is expired by at most one rule; an image that matches
the tag selection of a higher-priority rule is never expired by a lower-priority one; a
`tagPrefixList` matches an image when each prefix matches one of its tags; `imageCountMoreThan`
keeps the newest N; `sinceImagePushed` expires those older than N days. The publisher's side
runs against moto's ECR and the local Service Catalog.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pytest

from generator.cfn import names
from generator.engine import rollout
from generator.engine.publish.images import TagImage, UntagImage
from products.platform import images as platform_images
from tests.conftest import platform_body
from tests.support.publish_support import (
    Workspace,
    clients_for,
    isolated_workspace,
    launch,
    local_catalog,
    publish,
)

REPOSITORY = names.HUB_REPOSITORY
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass(frozen=True)
class Image:
    tags: tuple[str, ...]
    pushed_days_ago: int


def expired(rules: list[dict], images: dict[str, Image]) -> set[str]:
    """The images (by name) ECR's lifecycle would expire today."""
    gone: set[str] = set()
    claimed: set[str] = set()  # matched the tag selection of a higher-priority rule

    def matches(selection: dict, image: Image) -> bool:
        status = selection["tagStatus"]
        if status == "any":
            return True
        if status == "untagged":
            return not image.tags
        prefixes = selection.get("tagPrefixList", [])
        return bool(image.tags) and all(
            any(tag.startswith(prefix) for tag in image.tags) for prefix in prefixes
        )

    for rule in sorted(rules, key=lambda r: r["rulePriority"]):
        selection = rule["selection"]
        matching = [name for name, image in images.items() if matches(selection, image)]
        if selection["countType"] == "imageCountMoreThan":
            newest_first = sorted(matching, key=lambda n: images[n].pushed_days_ago)
            candidates = newest_first[selection["countNumber"] :]
        else:
            limit = selection["countNumber"]
            candidates = [n for n in matching if images[n].pushed_days_ago > limit]
        gone |= {n for n in candidates if n not in claimed and n not in gone}
        claimed |= set(matching)
    return gone


@pytest.fixture(scope="module")
def rules(example) -> list[dict]:
    repository = platform_body(example)["Resources"]["HubRepository"]["Properties"]
    return json.loads(repository["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]


def test_the_policy_is_one_ecr_accepts(rules):
    priorities = [r["rulePriority"] for r in rules]
    assert len(set(priorities)) == len(priorities)
    anys = [r for r in rules if r["selection"]["tagStatus"] == "any"]
    assert len(anys) <= 1 and (not anys or anys[0]["rulePriority"] == max(priorities))
    assert sum(r["selection"]["tagStatus"] == "untagged" for r in rules) <= 1
    for rule in rules:
        if rule["selection"]["tagStatus"] == "tagged":
            assert rule["selection"]["tagPrefixList"], rule


def test_in_use_images_stay_and_nothing_else_stays_for_ever(rules):
    in_use = names.IN_USE_IMAGE_TAG_PREFIX
    old = platform_images.UNUSED_IMAGE_DAYS + 365
    repository = {
        # A version published long ago and still live: its list and each architecture's image.
        "live": Image(("src-a", f"{in_use}shared-hub-1.0.0"), old),
        "live-arm64": Image(("src-a-arm64", f"{in_use}shared-hub-1.0.0-arm64"), old),
        "live-amd64": Image(("src-a-amd64", f"{in_use}shared-hub-1.0.0-amd64"), old),
        # Named by nothing live any more (its version deprecated, nothing launched).
        "unused": Image(("src-b",), platform_images.UNUSED_IMAGE_DAYS + 1),
        "unused-arm64": Image(("src-b-arm64",), platform_images.UNUSED_IMAGE_DAYS + 1),
        # Built, not yet published: there is time to publish it.
        "new": Image(("src-c",), 2),
        "untagged-old": Image((), platform_images.UNTAGGED_IMAGE_DAYS + 1),
        "untagged-new": Image((), 1),
    }
    assert expired(rules, repository) == {"unused", "unused-arm64", "untagged-old"}


def test_without_the_keep_rule_a_live_image_would_expire(rules):
    """The evaluator can tell: drop the in-use rule and the live image goes."""
    others = [r for r in rules if "tagPrefixList" not in r["selection"]]
    live = {"live": Image(("src-a", "in-use-shared-hub-tier0-1.0.0"), 400)}
    assert expired(others, live) == {"live"}
    assert expired(rules, live) == set()


# The publisher against moto's ECR and the local Service Catalog.


def _push(ecr, tag: str, arches: tuple[str, ...] = ("amd64", "arm64")) -> dict[str, str]:
    """Push a manifest list `tag` and its images `tag-<arch>` as the image build does;
    returns tag -> digest."""
    digests = {}
    children = []
    for arch in arches:
        layer = "sha256:" + hashlib.sha256(f"{tag}-{arch}".encode()).hexdigest()
        manifest = {"schemaVersion": 2, "mediaType": MANIFEST, "layers": [{"digest": layer}]}
        put = ecr.put_image(
            repositoryName=REPOSITORY,
            imageManifest=json.dumps(manifest),
            imageTag=f"{tag}-{arch}",
            imageManifestMediaType=MANIFEST,
        )
        digests[f"{tag}-{arch}"] = put["image"]["imageId"]["imageDigest"]
        children.append({"digest": digests[f"{tag}-{arch}"], "platform": {"architecture": arch}})
    index = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": children})
    put = ecr.put_image(
        repositoryName=REPOSITORY, imageManifest=index, imageTag=tag, imageManifestMediaType=INDEX
    )
    digests[tag] = put["image"]["imageId"]["imageDigest"]
    return digests


def _tags(ecr) -> dict[str, str]:
    found = ecr.list_images(repositoryName=REPOSITORY, filter={"tagStatus": "TAGGED"})
    return {i["imageTag"]: i["imageDigest"] for i in found["imageIds"]}


@pytest.fixture
def catalog(aws):
    server = local_catalog(aws)
    server.client("ecr").create_repository(
        repositoryName=REPOSITORY, imageTagMutability="IMMUTABLE"
    )
    return server


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Workspace:
    work = isolated_workspace(tmp_path, monkeypatch)
    work.data["products"]["shared-hub"]["keep_versions"] = 1
    work.data["tiers"] = work.data["tiers"][:1]  # one product: shared-hub/tier0
    del work.data["products"]["personal-hub"]
    return work


def test_live_versions_keep_their_images_until_nothing_runs_them(catalog, workspace, rules):
    ecr = catalog.client("ecr")
    first, second = _push(ecr, "src-aaaa"), _push(ecr, "src-bbbb")
    workspace.images["shared-hub"] = "src-aaaa"
    run = publish(workspace.write(), workspace.outdir, catalog)
    tagged = [a.tag for a in run.plan.changes if isinstance(a, TagImage)]
    assert tagged == [
        "in-use-shared-hub-tier0-1.0.0",
        "in-use-shared-hub-tier0-1.0.0-amd64",
        "in-use-shared-hub-tier0-1.0.0-arm64",
    ]
    first_action = TagImage("in-use-shared-hub-tier0-1.0.0", "src-aaaa")
    assert run.plan.actions[0] == first_action, "tags go first"
    tags = _tags(ecr)
    for suffix in ("", "-amd64", "-arm64"):
        assert tags[f"in-use-shared-hub-tier0-1.0.0{suffix}"] == first[f"src-aaaa{suffix}"]
    assert publish(workspace.write(), workspace.outdir, catalog).mutating == 0

    # 1.0.0 launched, then 1.1.0 published: 1.0.0 is deprecated (keep_versions 1) but runs.
    launch(catalog.client("servicecatalog"), "Team hub", "tier0", "alice-hub")
    workspace.set_version("shared-hub", "1.1.0")
    workspace.images["shared-hub"] = "src-bbbb"
    run = publish(workspace.write(), workspace.outdir, catalog)
    assert not [a for a in run.plan.changes if isinstance(a, UntagImage)]
    tags = _tags(ecr)
    assert tags["in-use-shared-hub-tier0-1.0.0"] == first["src-aaaa"]
    assert tags["in-use-shared-hub-tier0-1.1.0-arm64"] == second["src-bbbb-arm64"]

    # The rollout moves alice to 1.1.0: nothing runs 1.0.0, so its images lose their tags.
    clients = clients_for(catalog)
    moves, _ = rollout.plan_rollout(rollout.inventory(clients), wave_size=5)
    rollout.update(clients, moves, sleep=lambda _: None)
    run = publish(workspace.write(), workspace.outdir, catalog)
    untagged = [a.tag for a in run.plan.changes if isinstance(a, UntagImage)]
    assert untagged == [
        "in-use-shared-hub-tier0-1.0.0",
        "in-use-shared-hub-tier0-1.0.0-amd64",
        "in-use-shared-hub-tier0-1.0.0-arm64",
    ]
    assert run.plan.changes[-1] == UntagImage(
        "in-use-shared-hub-tier0-1.0.0-arm64", "its version is deprecated and not launched"
    ), "untags go last"

    # What the repository holds now, aged past the lifecycle's limit: 1.0.0's images go.
    details = ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]
    aged = {d["imageDigest"]: Image(tuple(d.get("imageTags", [])), 400) for d in details}
    gone = expired(rules, aged)
    assert gone == {first["src-aaaa"], first["src-aaaa-amd64"], first["src-aaaa-arm64"]}


def test_a_version_whose_image_is_not_built_yet_is_said(catalog, workspace):
    workspace.images["shared-hub"] = "src-notbuilt"
    run = publish(workspace.write(), workspace.outdir, catalog)
    assert not [a for a in run.plan.changes if isinstance(a, TagImage)]
    said = "shared-hub/tier0 1.0.0 names no image in labcatalog/hub yet"
    assert any(said in note for note in run.plan.skipped)


def test_a_published_version_gets_its_tags_from_its_stored_template(catalog, workspace):
    """A version published before its image was built (or before images were tagged) is found
    by its template in the template bucket, on a later run that creates nothing else."""
    ecr = catalog.client("ecr")
    workspace.images["shared-hub"] = "src-aaaa"
    publish(workspace.write(), workspace.outdir, catalog)
    assert "in-use-shared-hub-tier0-1.0.0" not in _tags(ecr)
    digests = _push(ecr, "src-aaaa")
    run = publish(workspace.write(), workspace.outdir, catalog)
    assert [type(a).__name__ for a in run.plan.changes] == ["TagImage"] * 3
    assert _tags(ecr)["in-use-shared-hub-tier0-1.0.0"] == digests["src-aaaa"]
