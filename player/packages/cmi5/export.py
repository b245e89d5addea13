"""Export a YAML course (``courses/*.yaml``) as a cmi5 package any cmi5 LMS can import (cmi5 §13, §14.1):
``cmi5.xml`` (the course; a block per module; an AU per lesson and per quiz) and one self-contained page
per AU with ``au.js``, our small AU runtime (cmi5 §8: launch parameters, the fetch URL, LMS.LaunchData,
learner preferences, then initialized / completed / passed or failed / terminated).

Ids are the hub's own Activity ids (``player.catalogue.activity_id``), so statements from another LMS
name the same course, module, lesson and quiz as the hub's. A lesson's moveOn is Completed (the learner
reached its end); a quiz's is Passed with masteryScore its passing score, scored in the page.
What does not travel: identity assurance (a VNeID check cannot run in another LMS), and a quiz's
answer key travels inside its page (another LMS's learners can read it in the page source).
"""

from __future__ import annotations

import html
import io
import json
import zipfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from player.catalogue import Course, Lesson, Quiz, activity_id
from player.packages.cmi5.structure import HINT_NS

NS = "https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd"
RUNTIME = Path(__file__).with_name("export_au.js")
EMPTY = '<langstring lang="vi">-</langstring>'  # the XSD wants one langstring at least


def _text(tag: str, text: dict[str, str] | Any) -> str:
    strings = "".join(f"<langstring lang={quoteattr(lang)}>{escape(value)}</langstring>"
                      for lang, value in dict(text).items() if value)
    return f"<{tag}>{strings or EMPTY}</{tag}>"


def _au(item: Lesson | Quiz, url: str) -> str:
    if isinstance(item, Quiz):
        attrs = f'moveOn="Passed" masteryScore="{min(1.0, max(0.0, item.passing_score)):.4f}"'
        if item.identity is not None:
            # Another hocvu hub importing it marks the AU assessed (player.packages.assessed); other LMSs ignore it.
            attrs += ' hv:assessed="true"'
        desc = item.title
    else:
        attrs = 'moveOn="Completed"'
        desc = {k: v.split("\n\n")[0][:400] for k, v in dict(item.transcript).items()}
    return (f'<au id={quoteattr(activity_id(item.target))} {attrs} launchMethod="AnyWindow">'
            f'{_text("title", item.title)}{_text("description", desc)}<url>{escape(url)}</url></au>')


def structure_xml(course: Course) -> bytes:
    blocks = []
    for m in course.modules:
        aus = [_au(le, f"{m.id}/{le.id}.html") for le in m.lessons] + \
              [_au(q, f"{m.id}/quiz-{q.id}.html") for q in m.quizzes]
        if not aus:
            continue
        blocks.append(f'<block id={quoteattr(activity_id(m.target))}>{_text("title", m.title)}'
                      f'{_text("description", m.title)}{"".join(aus)}</block>')
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<courseStructure xmlns="{NS}" xmlns:hv="{HINT_NS}">'
            f'<course id={quoteattr(activity_id(course.target))}>{_text("title", course.title)}'
            f'{_text("description", course.description)}</course>{"".join(blocks)}</courseStructure>\n').encode()


def _page(title: str, data: dict[str, Any], depth: int = 1) -> bytes:
    payload = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    up = "../" * depth
    return (f'<!doctype html><html lang="vi"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
            f'<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem}}'
            f'button{{font-size:1rem;padding:.6rem 1rem}}</style></head><body><main id="au"></main>'
            f'<script type="application/json" id="au-data">{payload}</script>'
            f'<script src="{up}au.js"></script></body></html>').encode()


def _lesson_data(lesson: Lesson) -> dict[str, Any]:
    return {"kind": "lesson", "title": dict(lesson.title), "transcript": dict(lesson.transcript),
            "keyPoints": {k: list(v) for k, v in lesson.key_points.items()},
            "video": None if lesson.video_placeholder else lesson.video_url}


def _quiz_data(quiz: Quiz) -> dict[str, Any]:
    return {"kind": "quiz", "title": dict(quiz.title), "passing": quiz.passing_score,
            "questions": [{"id": q.id, "type": q.type, "text": dict(q.text), "points": q.points,
                           "choices": [{"id": c.id, "text": dict(c.text)} for c in q.choices],
                           "correct": sorted(q.correct)} for q in quiz.questions]}


def export_course(course: Course) -> bytes:
    """The cmi5 package (zip bytes) of ``course``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cmi5.xml", structure_xml(course))
        zf.writestr("au.js", RUNTIME.read_bytes())
        for m in course.modules:
            for le in m.lessons:
                zf.writestr(f"{m.id}/{le.id}.html", _page(le.title.get("vi", le.id), _lesson_data(le)))
            for q in m.quizzes:
                zf.writestr(f"{m.id}/quiz-{q.id}.html", _page(q.title.get("vi", q.id), _quiz_data(q)))
    return buf.getvalue()
