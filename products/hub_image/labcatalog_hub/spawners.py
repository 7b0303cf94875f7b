"""Server sizes users may pick: the part every spawner of the image shares."""

from __future__ import annotations

import html

from tornado import web
from traitlets import List, Unicode, default
from traitlets.config import Configurable

from .settings import ServerSize


class SizedSpawner(Configurable):
    """Spawner mixin: the user picks one of `sizes` (`cpu:memory`); no form if there is one."""

    sizes = List(Unicode(), help="Allowed sizes, cpu:memory in Fargate units.").tag(config=True)
    default_size = Unicode(help="Preselected size, one of `sizes`.").tag(config=True)

    def _allowed(self) -> list[ServerSize]:
        return [ServerSize.parse(text) for text in self.sizes]

    @default("options_form")
    def _size_form(self) -> str:
        sizes = self._allowed()
        if len(sizes) < 2:
            return ""
        options = "".join(
            f'<option value="{s.key}"{" selected" if s.key == self.default_size else ""}>'
            f"{html.escape(s.label)}</option>"
            for s in sizes
        )
        return (
            f'<label for="size">Server size</label><select name="size" id="size">{options}</select>'
        )

    def options_from_form(self, formdata: dict) -> dict:
        return {"size": formdata.get("size", [self.default_size])[0]}

    @default("apply_user_options")
    def _apply_size_option(self):
        # JupyterHub (>= 5.3) runs this before start(); an HTTPError reaches the user as is.
        return SizedSpawner.apply_size

    def apply_size(self, user_options: dict) -> None:
        try:
            self.size = self.size_for(user_options)
        except ValueError as err:
            raise web.HTTPError(400, str(err)) from err

    def size_for(self, user_options: dict | None) -> ServerSize | None:
        """The size asked for (form or API), checked against what the product allows; None
        when the hub offers no sizes (its servers may use the whole host) and none is asked."""
        wanted = (user_options or {}).get("size") or self.default_size
        if not self.sizes and not wanted:
            return None
        wanted = wanted or self.sizes[0]
        allowed = self._allowed()
        try:
            size = ServerSize.parse(str(wanted))
        except ValueError as err:
            raise ValueError(f"size {wanted!r} is not offered by this hub") from err
        if size not in allowed:
            raise ValueError(
                f"size {size.key} is not offered by this hub; choose one of "
                + ", ".join(s.key for s in allowed)
            )
        return size

    def chosen_size(self) -> ServerSize | None:
        return getattr(self, "size", None) or self.size_for(self.user_options)
