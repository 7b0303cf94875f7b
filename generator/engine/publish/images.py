"""Images in use: the ECR tags that keep the hub image of every live product version.

The platform's repository expires an image some days after its push (products/platform/
images.py), except an image with a tag starting `in-use-`: a rule of higher priority selects
those and keeps them, and in ECR an image a higher-priority rule selects is never expired by a
lower one. A version is live while it is published and not deprecated, or while any launched
product runs it (a hub pulls its image again at every restart and spawn). The image a version
names is the repository tag its template mentions (the build writes the content tag into the
template); the image build also tags each architecture's image of the manifest list
`<tag>-<arch>`, and those get in-use tags of their own.

The plan gives each live version's images `in-use-<product>-<tier>-<version>[-<arch>]` before
anything else, and takes away the tags of versions no longer live after everything else, so a
run that stops half-way never leaves a live version's image unprotected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import botocore.exceptions

from generator.cfn import names
from generator.engine.publish import actions as act
from generator.engine.publish.apply import Context, run
from generator.engine.publish.aws import Clients
from generator.engine.publish.desired import (
    TEMPLATE_KEY_PREFIX,
    VersionSpec,
    hash_in_description,
)
from generator.engine.publish.plan import DEPRECATED, Plan
from generator.engine.publish.state import CatalogState
from generator.model.problems import UserError

IN_USE = names.IN_USE_IMAGE_TAG_PREFIX
REPOSITORY = names.HUB_REPOSITORY
# What batch_get_image may return: a manifest list (OCI or Docker) or one image's manifest.
MEDIA_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
]


def in_use_tag(product: str, version: str, suffix: str = "") -> str:
    """`product` is a Service Catalog product's key, `<product>/<tier>` (no `/` in a tag)."""
    return f"{IN_USE}{product.replace('/', '-')}-{version}{suffix}"


@dataclass(frozen=True)
class TagImage(act.Action):
    """Give the image that `source` names one more tag (the same manifest, put again)."""

    tag: str
    source: str
    change: ClassVar[act.Change] = act.Change.CREATE
    resource: ClassVar[str] = "image tag"

    @property
    def subject(self) -> str:
        return f"{REPOSITORY}:{self.tag}"

    @property
    def detail(self) -> str:
        return f"keeps {self.source}"


@dataclass(frozen=True)
class UntagImage(act.Action):
    """Take one tag off an image; the image stays while it has other tags (ECR's rule)."""

    tag: str
    reason: str
    change: ClassVar[act.Change] = act.Change.DELETE
    resource: ClassVar[str] = "image tag"

    @property
    def subject(self) -> str:
        return f"{REPOSITORY}:{self.tag}"

    @property
    def detail(self) -> str:
        return self.reason


@run.register
def _(action: TagImage, context: Context) -> None:
    ecr = context.clients.ecr
    found = ecr.batch_get_image(
        repositoryName=REPOSITORY,
        imageIds=[{"imageTag": action.source}],
        acceptedMediaTypes=MEDIA_TYPES,
    )["images"]
    if not found:
        raise UserError(f"{REPOSITORY}:{action.source} is gone; run plan again")
    image = found[0]
    media_type = image.get("imageManifestMediaType")
    try:
        ecr.put_image(
            repositoryName=REPOSITORY,
            imageManifest=image["imageManifest"],
            imageTag=action.tag,
            **({"imageManifestMediaType": media_type} if media_type else {}),
        )
    except botocore.exceptions.ClientError as err:
        # The repository's tags are immutable: the tag is there already (a re-run after an
        # interruption), on this image, since a version's template never changes.
        if err.response["Error"]["Code"] not in (
            "ImageAlreadyExistsException",
            "ImageTagAlreadyExistsException",
        ):
            raise


@run.register
def _(action: UntagImage, context: Context) -> None:
    context.clients.ecr.batch_delete_image(
        repositoryName=REPOSITORY, imageIds=[{"imageTag": action.tag}]
    )


def repository_tags(clients: Clients) -> dict[str, str] | None:
    """Every tag of the hub repository and the digest it names; None if there is no repository."""
    tags, token = {}, None
    while True:
        try:
            page = clients.ecr.list_images(
                repositoryName=REPOSITORY,
                filter={"tagStatus": "TAGGED"},
                **({"nextToken": token} if token else {}),
            )
        except botocore.exceptions.ClientError as err:
            if err.response["Error"]["Code"] == "RepositoryNotFoundException":
                return None
            raise
        for image in page.get("imageIds", []):
            tags[image["imageTag"]] = image["imageDigest"]
        token = page.get("nextToken")
        if not token:
            return tags


def live_versions(
    plan: Plan, state: CatalogState, launched: set[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """(product, version) -> template sha256 of every version live once the plan has run:
    published and not deprecated, or launched."""
    guidance = {(key, v.name): v.guidance for key, p in state.products.items() for v in p.versions}
    sha = {
        (key, v.name): hash_in_description(v.description) or ""
        for key, p in state.products.items()
        for v in p.versions
    }
    for action in plan.actions:
        created = _created(action)
        if created is not None:
            guidance[(created[0], created[1].name)] = "DEFAULT"
            sha[(created[0], created[1].name)] = created[1].template.sha256
        elif isinstance(action, act.UpdateVersion) and action.guidance:
            guidance[(action.product, action.version)] = action.guidance
    return {
        version: sha[version]
        for version, said in guidance.items()
        if said != DEPRECATED or version in launched
    }


def _created(action: act.Action) -> tuple[str, VersionSpec] | None:
    """(product, version) a plan's action publishes: a new product's first, or a new one."""
    if isinstance(action, act.CreateProduct):
        return action.spec.key, action.spec.version
    if isinstance(action, act.CreateVersion):
        return action.product, action.version
    return None


def template_text(clients: Clients, bucket: str, plan: Plan, sha256: str) -> str | None:
    """A version's template: from this build, else from the template bucket."""
    for action in plan.actions:
        created = _created(action)
        if created is not None and created[1].template.sha256 == sha256:
            return created[1].template.body.decode()
    try:
        body = clients.s3.get_object(
            Bucket=bucket, Key=f"{TEMPLATE_KEY_PREFIX}/{sha256}.template.json"
        )["Body"]
        return body.read().decode()
    except botocore.exceptions.ClientError as err:
        if err.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def named_images(text: str, tags: dict[str, str]) -> dict[str, str]:
    """suffix -> repository tag of each image a template names: the tags it mentions as JSON
    strings ("" suffix), and each one's per-architecture images (`-<arch>` suffixes)."""
    found = {}
    strings = set()

    def collect(node) -> None:
        if isinstance(node, str):
            strings.add(node)
        elif isinstance(node, dict):
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(json.loads(text))
    for tag in sorted(tags):
        if tag.startswith(IN_USE) or tag not in strings:
            continue
        found[""] = tag
        for other in sorted(tags):
            if other.startswith(f"{tag}-"):
                found[other[len(tag) :]] = other
    return found


def protect(
    plan: Plan,
    state: CatalogState,
    clients: Clients,
    bucket: str,
    launched: set[tuple[str, str]],
) -> None:
    """Add to `plan` the tag changes that keep exactly the live versions' images."""
    tags = repository_tags(clients)
    if tags is None:
        plan.skipped += (
            f"images: no repository {REPOSITORY}; deploy the platform stack, then publish again "
            "to keep the images the product versions name",
        )
        return
    wanted: dict[str, str] = {}
    for (product, version), sha256 in sorted(live_versions(plan, state, launched).items()):
        text = template_text(clients, bucket, plan, sha256) if sha256 else None
        images = named_images(text, tags) if text else {}
        if not images:
            plan.skipped += (
                f"images: {product} {version} names no image in {REPOSITORY} yet; run the image "
                "pipeline (it builds on each platform update), then publish again to keep it",
            )
        for suffix, source in images.items():
            wanted[in_use_tag(product, version, suffix)] = source
    first = []
    for tag, source in sorted(wanted.items()):
        if tag in tags:
            plan.actions.append(act.Unchanged("image tag", f"{REPOSITORY}:{tag}"))
        else:
            first.append(TagImage(tag, source))
    plan.actions[:0] = first
    for tag in sorted(t for t in tags if t.startswith(IN_USE) and t not in wanted):
        plan.actions.append(UntagImage(tag, "its version is deprecated and not launched"))
