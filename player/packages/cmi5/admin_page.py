"""The national administrators' course packages page at /player/cmi5/admin/page: the imported courses,
a form to import one (a file or a URL), the units of each that are assessed (identity assurance applies:
``player.packages.assessed``) and a button to remove one; the same as ``hocvu courses import``, ``list``,
``assess`` and ``remove``. HTTP Basic with a national-tenant ``all`` credential (``http._admin``); browsers
resend Basic credentials on every request, cross-site ones included, so every POST carries the
session's CSRF token. Vietnamese first, English with the player's language switch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from identity import web
from lrs.errors import Unauthorized
from player import pages
from player.packages import assessed, imports
from player.packages.cmi5.http import admin_principal
from player.packages.errors import PackageError, PackageNotFound
from player.packages.fetch import fetch
from player.packages.http import package_store
from player.packages.listing import title_in
from player.packages.storage import ImportedPackage

bp = Blueprint("cmi5_admin", __name__)
TEXTS = {
    "admin.title": ("Khoá học nhập từ gói cmi5", "Courses imported from cmi5 packages"),
    "admin.import": ("Nhập gói (tệp .zip hoặc cmi5.xml)", "Import a package (.zip or cmi5.xml)"),
    "admin.url": ("hoặc địa chỉ URL của gói", "or the package's URL"),
    "admin.submit": ("Nhập", "Import"),
    "admin.remove": ("Xoá", "Remove"),
    "admin.none": ("Chưa có khoá học nào được nhập.", "No course imported yet."),
    "admin.done": ("Đã nhập: {slug}", "Imported: {slug}"),
    "admin.removed": ("Đã xoá: {slug}", "Removed: {slug}"),
    "admin.refused": ("Gói bị từ chối: {reason}", "Package refused: {reason}"),
    "admin.aus": ("{n} bài (AU)", "{n} AU(s)"),
    "admin.assessed": ("Bài kiểm tra cần xác thực danh tính (VNeID và khuôn mặt)",
                       "Assessed units: identity assurance applies (VNeID and face check)"),
    "admin.save": ("Lưu", "Save"),
    "admin.saved": ("Đã lưu các bài kiểm tra của {slug}", "Saved the assessed units of {slug}"),
}


def _text(key: str, locale: str, **params: Any) -> str | None:
    pair = TEXTS.get(key)
    if pair is None:
        return None
    text = pair[1] if locale.startswith("en") else pair[0]
    return text.format(**params) if params else text


def _challenge() -> Response:
    return Response("authentication required", 401, {"WWW-Authenticate": 'Basic realm="hocvu admin"'})


@bp.get("/page")
def page() -> Response:
    with pages.db() as db:
        try:
            admin_principal(db)
        except Unauthorized:
            return _challenge()
        rows = [imports.describe(p) for p in db.scalars(select(ImportedPackage).order_by(ImportedPackage.slug))]
    lang = pages.locale()
    for row in rows:
        row["name"] = title_in(row["title"], lang)
        # What an administrator may mark assessed: every AU of a cmi5 course, the SCOs of a SCORM one.
        row["units"] = [{"id": u["id"], "title": title_in(u["title"], lang) if isinstance(u["title"], dict)
                         else u["title"], "assessed": u["assessed"]}
                        for u in row.get("aus") or [i for i in row.get("items") or [] if i["sco"]]]
    return pages.render("player/cmi5_admin.html", texts=_text, rows=rows, notice=request.args.get("notice", ""),
                        notice_kind=request.args.get("kind", ""))


def _back(kind: str, notice: str) -> BaseResponse:
    return web.see_other(url_for("cmi5_admin.page", kind=kind, notice=notice))


@bp.post("/page/import")
def import_package() -> BaseResponse:
    store = package_store()
    with pages.db() as db:
        try:
            admin_principal(db)
        except Unauthorized:
            return _challenge()
        pages.check_csrf(request.form.get("csrf"))
        lang = pages.locale()
        upload = request.files.get("package")
        url = (request.form.get("url") or "").strip()
        try:
            if upload is not None and upload.filename:
                pkg = imports.import_package(db, store, upload.stream.read(), upload.filename, pages.now())
            elif url:
                data = fetch(url, store.config.fetch)
                pkg = imports.import_package(db, store, data, url, pages.now())
            else:
                raise PackageError("no file and no URL")
            slug = pkg.slug
        except PackageError as err:
            db.rollback()
            return _back("error", _text("admin.refused", lang, reason=err.message) or err.message)
    imports.after_commit(db, store)
    return _back("done", _text("admin.done", lang, slug=slug) or slug)


@bp.post("/page/assessed/<slug>")
def set_assessed(slug: str) -> BaseResponse:
    """The units of ``slug`` identity assurance applies to: exactly those ticked (``unit`` fields)."""
    with pages.db() as db:
        try:
            admin_principal(db)
        except Unauthorized:
            return _challenge()
        pages.check_csrf(request.form.get("csrf"))
        pkg = db.scalars(select(ImportedPackage).where(ImportedPackage.slug == slug)).first()
        if pkg is None:
            raise PackageNotFound(f"no imported course {slug!r}")
        try:
            assessed.set_assessed(pkg, request.form.getlist("unit"))
        except PackageError as err:
            db.rollback()
            return _back("error", err.message)
    return _back("done", _text("admin.saved", pages.locale(), slug=slug) or slug)


@bp.post("/page/remove/<slug>")
def remove(slug: str) -> BaseResponse:
    with pages.db() as db:
        try:
            admin_principal(db)
        except Unauthorized:
            return _challenge()
        pages.check_csrf(request.form.get("csrf"))
        pkg = db.scalars(select(ImportedPackage).where(ImportedPackage.slug == slug)).first()
        if pkg is not None:
            key, files = pkg.package_key, pkg.has_files
            db.delete(pkg)
    if pkg is not None and files:
        package_store().remove(key)
    return _back("done", _text("admin.removed", pages.locale(), slug=slug) or slug)
