"""The cmi5 statement rules the LRS enforces for an AU session (cmi5 §9 "xAPI Statement Data Model",
§9.3 "cmi5 defined" statements; §6.3: a statement that conflicts with them is rejected, and
CATAPULT expects 403 Forbidden). ``lrs.statements.store`` calls ``check_batch`` for every batch sent
with an AU session's credential (its key starts with ``KEY_PREFIX``), before anything is written;
the batch is atomic, so one refused statement refuses it all, and nothing is stored.

Each refusal is ``Cmi5Forbidden`` whose message starts with the clause it enforces. The LMS's own
statements (launched, satisfied, abandoned, waived) are written by the hub in-process, never with an
AU credential: an AU that sends one is refused (§9.3.1, §9.3.6, §9.3.7, §9.3.9).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lrs.cmi5.storage import ENDED, INITIALIZED, LAUNCHED, TERMINATED, Cmi5AuStatus, Cmi5Session
from lrs.credentials import Principal
from lrs.errors import Forbidden
from lrs.identifiers import actor_key
from lrs.storage import as_utc

KEY_PREFIX = "cmi5-"
ADL = "http://adlnet.gov/expapi/verbs/"
W3ID = "https://w3id.org/xapi/adl/verbs/"
VERB = {
    "launched": ADL + "launched", "initialized": ADL + "initialized", "completed": ADL + "completed",
    "passed": ADL + "passed", "failed": ADL + "failed", "abandoned": W3ID + "abandoned",
    "waived": W3ID + "waived", "terminated": ADL + "terminated", "satisfied": W3ID + "satisfied",
}
VERB_NAME = {iri: name for name, iri in VERB.items()}
VOIDED = ADL + "voided"
CATEGORY_CMI5 = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
CATEGORY_MOVEON = "https://w3id.org/xapi/cmi5/context/categories/moveon"
EXT = "https://w3id.org/xapi/cmi5/context/extensions/"
SESSION_EXT = EXT + "sessionid"
MASTERY_EXT = EXT + "masteryscore"
LMS_ONLY = {"launched": "§9.3.1", "abandoned": "§9.3.6", "waived": "§9.3.7", "satisfied": "§9.3.9"}
AU_DEFINED = ("initialized", "completed", "passed", "failed", "terminated")

# After a batch from an AU is stored: (db session, the AU session row, [(verb name, statement)]).
Listener = Callable[[Session, Cmi5Session, list[tuple[str, dict[str, Any]]]], None]
_listeners: list[Listener] = []
# After a batch from an AU is stored: (db session, the AU session row, every statement of the batch as
# stored). The identity gate's attestation of assessed AUs (player.packages.attest) listens here.
BatchListener = Callable[[Session, Cmi5Session, list[dict[str, Any]]], None]
_batch_listeners: list[BatchListener] = []


class Cmi5Forbidden(Forbidden):
    status, code = 403, "cmi5_rule"


def add_listener(listener: Listener) -> None:
    """Called by the LMS (the player's packages) at start-up: it issues satisfied statements when
    an AU's statements meet its moveOn (cmi5 §9.3.9)."""
    if listener not in _listeners:
        _listeners.append(listener)


def add_batch_listener(listener: BatchListener) -> None:
    """Called at start-up by whoever must see every statement an AU stored, in its transaction."""
    if listener not in _batch_listeners:
        _batch_listeners.append(listener)


def applies(principal: Principal) -> bool:
    return principal.key.startswith(KEY_PREFIX) and principal.credential_id is not None


@dataclass
class _Walk:
    """The session's state as the batch is walked, written back only when all of it passed."""

    state: str
    completed: bool
    passed: bool
    failed: bool
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    score: float | None = None


def session_of(db: Session, principal: Principal) -> Cmi5Session:
    row = db.scalars(select(Cmi5Session).where(Cmi5Session.tenant_id == principal.tenant_id,
                                               Cmi5Session.credential_id == principal.credential_id)
                     .with_for_update()).first()
    if row is None:
        raise Cmi5Forbidden("cmi5 §8.2: this credential belongs to no AU session")
    return row


def status_of(db: Session, row: Cmi5Session) -> Cmi5AuStatus:
    status = db.scalars(select(Cmi5AuStatus).where(
        Cmi5AuStatus.tenant_id == row.tenant_id, Cmi5AuStatus.registration == row.registration,
        Cmi5AuStatus.au_iri == row.au_iri).with_for_update()).first()
    if status is None:
        status = Cmi5AuStatus(tenant_id=row.tenant_id, registration=row.registration, au_iri=row.au_iri,
                              completed=False, passed=False, waived=False, satisfied=False)
        db.add(status)
        db.flush()
    return status


def check_batch(db: Session, principal: Principal, statements: list[dict[str, Any]],
                now: datetime, sent: list[Any] | None = None) -> Callable[[], None]:
    """Check ``statements`` (in order; ``sent``: as the AU sent them, before the LRS filled in ids
    and timestamps) against the credential's AU session; Cmi5Forbidden on the first that breaks a
    rule. Returns what to run once they are stored (state, then listeners)."""
    for raw in sent or []:
        _check_sent(raw)
    row = session_of(db, principal)
    if row.state in ENDED:
        raise Cmi5Forbidden(f"cmi5 §9.3.8: the AU session {row.session_id} has ended ({row.state}); "
                            "no statement may follow")
    if now > as_utc(row.expires):
        raise Cmi5Forbidden(f"cmi5 §8.2: the AU session {row.session_id}'s credential has expired")
    status = status_of(db, row)
    walk = _Walk(state=row.state, completed=status.completed, passed=status.passed, failed=row.failed)
    for statement in statements:
        _check_one(row, walk, statement)

    def commit() -> None:
        if walk.state == INITIALIZED and row.initialized is None:
            row.initialized = now
        if walk.state == TERMINATED:
            row.ended = now
        row.state, row.failed, row.last_statement = walk.state, walk.failed, now
        status.completed, status.passed = walk.completed, walk.passed
        if walk.score is not None:
            status.score_scaled = walk.score
        db.flush()
        if walk.events:
            for listener in list(_listeners):
                listener(db, row, walk.events)
        for batch_listener in list(_batch_listeners):
            batch_listener(db, row, statements)

    return commit


def _check_one(row: Cmi5Session, walk: _Walk, st: dict[str, Any]) -> None:
    sid = st.get("id", "")
    verb = VERB_NAME.get((st.get("verb") or {}).get("id", ""))
    if (st.get("verb") or {}).get("id") == VOIDED:
        raise Cmi5Forbidden(f"cmi5 §6.3: statement {sid}: an AU may not void statements")
    if verb in LMS_ONLY:
        raise Cmi5Forbidden(f"cmi5 {LMS_ONLY[verb]}: statement {sid}: only the LMS issues '{verb}'")
    _check_identity(row, st, sid)
    if walk.state == TERMINATED:
        raise Cmi5Forbidden(f"cmi5 §9.3.8: statement {sid}: Terminated must be the last statement of the session")
    if walk.state == LAUNCHED and verb != "initialized":
        raise Cmi5Forbidden(f"cmi5 §9.3.2: statement {sid}: the first statement of an AU session must be "
                            "Initialized")
    categories = _category_ids(st)
    if verb is None:
        if CATEGORY_CMI5 in categories or CATEGORY_MOVEON in categories:
            raise Cmi5Forbidden(f"cmi5 §9.6.2.1: statement {sid}: a cmi5 allowed statement may not carry "
                                "the cmi5 or moveOn category")
        return
    _check_defined(row, st, sid, categories)
    if verb in ("initialized", "terminated") and CATEGORY_MOVEON in categories:
        raise Cmi5Forbidden(f"cmi5 §9.6.2.2: statement {sid}: only Completed, Passed and Failed carry the moveOn "
                            "category")
    if verb == "initialized":
        if walk.state != LAUNCHED:
            raise Cmi5Forbidden(f"cmi5 §9.3.2: statement {sid}: Initialized may be sent once per AU session")
        if not row.prefs_read:
            raise Cmi5Forbidden(f"cmi5 §11: statement {sid}: the AU must read the learner preferences "
                                "(cmi5LearnerPreferences) before it sends Initialized")
        walk.state = INITIALIZED
    elif verb == "terminated":
        _need_duration(st, sid, "§9.5.4.1", verb)
        walk.state = TERMINATED
    else:
        _check_outcome(row, walk, st, sid, verb, categories)
    walk.events.append((verb, st))


def _check_sent(raw: Any) -> None:
    """What the AU itself must fill in (the LRS would otherwise supply it)."""
    if not isinstance(raw, dict):
        return  # the xAPI validation has refused it already
    if not raw.get("id"):
        raise Cmi5Forbidden("cmi5 §9.1: an AU's statement must carry its own id")
    stamp = raw.get("timestamp")
    if not isinstance(stamp, str):
        raise Cmi5Forbidden(f"cmi5 §9.7: statement {raw['id']}: an AU's statement must carry a timestamp")
    if not (stamp.endswith("Z") or stamp.endswith("+00:00")):
        raise Cmi5Forbidden(f"cmi5 §9.7: statement {raw['id']}: the timestamp must be in UTC, not {stamp!r}")


def _check_identity(row: Cmi5Session, st: dict[str, Any], sid: str) -> None:
    if (st.get("actor") or {}).get("objectType", "Agent") != "Agent":
        raise Cmi5Forbidden(f"cmi5 §9.2: statement {sid}: the actor must be an Agent")
    try:
        same_actor = actor_key(st.get("actor") or {}) == row.actor_key
    except (KeyError, TypeError, ValueError):
        same_actor = False
    if not same_actor:
        raise Cmi5Forbidden(f"cmi5 §9.2: statement {sid}: the actor must be the one the LMS launched the AU with")
    context = st.get("context") or {}
    if context.get("registration") != row.registration:
        raise Cmi5Forbidden(f"cmi5 §9.6.1: statement {sid}: context.registration must be the launch's "
                            f"registration {row.registration}")
    if (context.get("extensions") or {}).get(SESSION_EXT) != row.session_id:
        raise Cmi5Forbidden(f"cmi5 §9.6.3.1: statement {sid}: the context extension {SESSION_EXT} must be the "
                            f"session id {row.session_id}")


def _category_ids(st: dict[str, Any]) -> set[str]:
    cats = ((st.get("context") or {}).get("contextActivities") or {}).get("category") or []
    if isinstance(cats, dict):
        cats = [cats]
    return {str(c.get("id")) for c in cats if isinstance(c, dict)}


def _check_defined(row: Cmi5Session, st: dict[str, Any], sid: str, categories: set[str]) -> None:
    obj = st.get("object") or {}
    if obj.get("objectType", "Activity") != "Activity" or obj.get("id") != row.au_iri:
        raise Cmi5Forbidden(f"cmi5 §9.4: statement {sid}: the object of a cmi5 defined statement must be the "
                            f"AU's activity {row.au_iri}")
    if CATEGORY_CMI5 not in categories:
        raise Cmi5Forbidden(f"cmi5 §9.6.2.1: statement {sid}: a cmi5 defined statement must carry the category "
                            f"{CATEGORY_CMI5}")


def _need_duration(st: dict[str, Any], sid: str, clause: str, verb: str) -> None:
    if not (st.get("result") or {}).get("duration"):
        raise Cmi5Forbidden(f"cmi5 {clause}: statement {sid}: a {verb.capitalize()} statement must include "
                            "result.duration")


def _check_outcome(row: Cmi5Session, walk: _Walk, st: dict[str, Any], sid: str, verb: str,
                   categories: set[str]) -> None:
    """completed, passed, failed (cmi5 §9.3.3-§9.3.5, §9.5, §9.6.2.2, §10.2.2)."""
    clause = {"completed": "§9.3.3", "passed": "§9.3.4", "failed": "§9.3.5"}[verb]
    if row.launch_mode != "Normal":
        raise Cmi5Forbidden(f"cmi5 §10.2.2: statement {sid}: in {row.launch_mode} launch mode an AU may not "
                            f"send {verb.capitalize()}")
    if CATEGORY_MOVEON not in categories:
        raise Cmi5Forbidden(f"cmi5 §9.6.2.2: statement {sid}: a {verb.capitalize()} statement must carry the "
                            f"moveOn category {CATEGORY_MOVEON}")
    _need_duration(st, sid, "§9.5.4.1", verb)
    result = st.get("result") or {}
    score = result.get("score")
    if isinstance(score, dict) and "raw" in score and ("min" not in score or "max" not in score):
        raise Cmi5Forbidden(f"cmi5 §9.5.1: statement {sid}: a score with raw must have min and max")
    if verb == "completed":
        if "success" in result or score is not None:
            raise Cmi5Forbidden(f"cmi5 §9.5.1/§9.5.2: statement {sid}: a Completed statement carries neither "
                                "success nor score")
        if walk.completed:
            raise Cmi5Forbidden(f"cmi5 {clause}: statement {sid}: Completed may be sent once per AU and registration")
        if result.get("completion") is not True:
            raise Cmi5Forbidden(f"cmi5 §9.5.3: statement {sid}: a Completed statement must have result.completion "
                                "true")
        walk.completed = True
        return
    success = verb == "passed"
    if "completion" in result:
        raise Cmi5Forbidden(f"cmi5 §9.5.3: statement {sid}: a {verb.capitalize()} statement carries no completion")
    if result.get("success") is not success:
        raise Cmi5Forbidden(f"cmi5 §9.5.2: statement {sid}: a {verb.capitalize()} statement must have "
                            f"result.success {str(success).lower()}")
    if walk.passed:
        raise Cmi5Forbidden(f"cmi5 {clause}: statement {sid}: no Passed or Failed may follow Passed within a "
                            "registration")
    if walk.failed:
        raise Cmi5Forbidden(f"cmi5 {clause}: statement {sid}: no Passed or Failed may follow Failed within an "
                            "AU session")
    scaled = (result.get("score") or {}).get("scaled")
    if row.mastery_score is not None:
        _check_mastery(row, st, sid, verb, scaled, success)
    if scaled is not None:
        walk.score = float(scaled)
    walk.passed = walk.passed or success
    walk.failed = walk.failed or not success


def _check_mastery(row: Cmi5Session, st: dict[str, Any], sid: str, verb: str, scaled: Any, success: bool) -> None:
    mastery = row.mastery_score
    assert mastery is not None
    ext = ((st.get("context") or {}).get("extensions") or {}).get(MASTERY_EXT)
    if not isinstance(scaled, int | float):
        return  # a judged outcome without a score is allowed (cmi5 §9.5.1: score is optional)
    # cmi5 §9.6.3.2: a judged score is judged against the launch's masteryScore, which it names.
    if not isinstance(ext, int | float) or abs(float(ext) - mastery) > 1e-9:
        raise Cmi5Forbidden(f"cmi5 §9.6.3.2: statement {sid}: a scored {verb.capitalize()} statement must carry "
                            f"the context extension {MASTERY_EXT} = the launch's masteryScore {mastery:g}")
    if success and scaled < mastery:
        raise Cmi5Forbidden(f"cmi5 §9.3.4: statement {sid}: Passed with score.scaled {scaled:g}, below the "
                            f"masteryScore {mastery:g}")
    if not success and scaled >= mastery:
        raise Cmi5Forbidden(f"cmi5 §9.3.5: statement {sid}: Failed with score.scaled {scaled:g}, at or above "
                            f"the masteryScore {mastery:g}")


def check_document(db: Session, principal: Principal, kind: str, activity_id: str, agent: str,
                   registration: str | None, doc_id: str | None, writing: bool,
                   content: bytes = b"", content_type: str = "") -> bool:
    """An AU session's credential reaches only its own learner's documents: the State of its AU and
    registration (cmi5 §10; LMS.LaunchData read-only, §10.0) and its learner's Agent Profile (cmi5 §11).
    Activity Profiles are shared by every learner: read-only for an AU."""
    row = db.scalars(select(Cmi5Session).where(Cmi5Session.tenant_id == principal.tenant_id,
                                               Cmi5Session.credential_id == principal.credential_id)).first()
    if row is None:
        raise Cmi5Forbidden("cmi5 §8.2: this credential belongs to no AU session")
    if row.state in ENDED:
        raise Cmi5Forbidden(f"cmi5 §8.1.2: the AU session {row.session_id} has ended ({row.state}); its "
                            "credential no longer reaches documents")
    if kind == "activity_profile":
        if writing:
            raise Cmi5Forbidden("cmi5 §8.2: an AU session's credential may not write Activity Profiles")
        return False
    if agent != row.actor_key:
        raise Cmi5Forbidden("cmi5 §11: an AU session's credential reaches only its own learner's documents")
    if kind == "agent_profile" and doc_id == LEARNER_PREFS:
        if writing:
            _check_prefs(content, content_type)
        elif not row.prefs_read:
            row.prefs_read = True
            return True
    if kind == "state":
        if activity_id != row.au_iri or registration not in (row.registration, None):
            raise Cmi5Forbidden(f"cmi5 §10: an AU session's credential reaches only the State of its AU "
                                f"{row.au_iri} and registration {row.registration}")
        if writing and (doc_id == "LMS.LaunchData" or doc_id is None):
            raise Cmi5Forbidden("cmi5 §10: LMS.LaunchData is written by the LMS only")
    return False


LEARNER_PREFS = "cmi5LearnerPreferences"
_LANG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")


def _check_prefs(content: bytes, content_type: str) -> None:
    """cmi5 §11: the learner preferences document is a JSON object with languagePreference (a
    comma-separated list of RFC 5646 tags) and audioPreference ("on" or "off")."""
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise Cmi5Forbidden("cmi5 §11: cmi5LearnerPreferences is sent as application/json")
    try:
        doc = json.loads(content)
    except ValueError:
        raise Cmi5Forbidden("cmi5 §11: cmi5LearnerPreferences is not JSON") from None
    if not isinstance(doc, dict):
        raise Cmi5Forbidden("cmi5 §11: cmi5LearnerPreferences is a JSON object")
    langs = doc.get("languagePreference")
    if not isinstance(langs, str) or not langs or not all(_LANG.match(x) for x in langs.split(",")):
        raise Cmi5Forbidden("cmi5 §11: languagePreference is a comma-separated list of language tags")
    if doc.get("audioPreference") not in ("on", "off"):
        raise Cmi5Forbidden("cmi5 §11: audioPreference is \"on\" or \"off\"")
