"""``hocvu import caliper|scorm|moodle-log|roster`` (hocvu/cli_import.py), run through click on the
``app`` fixture's database: counts, each rejected line with its reason, JSON, exit status."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result
from flask import Flask

from hocvu.cli import main
from tests.connectors.import_support import DATA, LMS, Target


def hocvu(app: Flask, *args: str) -> Result:
    env = {"HOCVU_DATABASE_URL": app.extensions["hocvu.db"].url, "HOCVU_SECRET_KEY": "cli-test"}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_text_report_lists_counts_and_each_rejected_line(app: Flask, import_tenant: Target) -> None:
    result = hocvu(app, "import", "moodle-log", str(DATA / "moodle_log.csv"), "--tenant", import_tenant.slug,
                   "--lms-url", LMS)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"moodle-log → tenant {import_tenant.slug}"
    assert lines[1] == "read 16 rows: stored 11 statements, 0 already present, rejected 5 rows"
    assert lines[2].startswith("  line 9: event 'Dashboard viewed' is not mapped to xAPI")
    assert lines[3] == ("  line 13: time '11/23/2026 8:00 PM' is not in the format '%d/%m/%y, %H:%M' "
                        "(e.g. '22/11/26, 09:15')")
    assert [line.split(":")[0] for line in lines[2:]] == ["  line 9", "  line 13", "  line 14", "  line 16",
                                                          "  line 17"]
    again = hocvu(app, "import", "moodle-log", str(DATA / "moodle_log.csv"), "--tenant", import_tenant.slug,
                  "--lms-url", LMS)
    assert again.output.splitlines()[1] == "read 16 rows: stored 0 statements, 11 already present, rejected 5 rows"


def test_caliper_json_report_names_line_and_event(app: Flask, import_tenant: Target) -> None:
    result = hocvu(app, "import", "caliper", str(DATA / "caliper_events.jsonl"), "--tenant", import_tenant.slug,
                   "--json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert {k: report[k] for k in ("tenant", "format", "dry_run", "read", "stored", "already_present", "rejected")} \
        == {"tenant": import_tenant.slug, "format": "caliper", "dry_run": False, "read": 18, "stored": 10,
            "already_present": 1, "rejected": 7}
    assert report["rejections"][2] == {"line": 8, "item": 1, "reason": "unknown event type 'MediaEvent': imported "
                                       "are NavigationEvent, ViewEvent, AssessmentEvent, AssessmentItemEvent, "
                                       "GradeEvent, SessionEvent"}
    assert report["rejections"][0] == {"line": 3, "reason": "not valid JSON (Expecting ',' delimiter at column 252)"}


def test_dry_run_stores_nothing(app: Flask, import_tenant: Target) -> None:
    result = hocvu(app, "import", "scorm", str(DATA / "scorm_runtime.jsonl"), "--tenant", import_tenant.slug,
                   "--lms-url", LMS, "--dry-run")
    assert result.exit_code == 0
    assert result.output.splitlines()[:2] == [
        f"scorm → tenant {import_tenant.slug} (dry run: nothing was written)",
        "read 12 lines: would store 22 statements, 0 already present, rejected 7 lines"]
    assert import_tenant.statements() == {}


def test_roster_report(app: Flask, import_tenant: Target) -> None:
    result = hocvu(app, "import", "roster", str(DATA / "roster.csv"), "--tenant", import_tenant.slug,
                   "--lms-url", LMS)
    assert result.exit_code == 0
    assert result.output.splitlines()[1] == ("read 11 rows: stored 5 learner records, 0 already present, "
                                             "rejected 6 rows")


def test_exit_status_is_nonzero_only_when_nothing_could_be_read(app: Flask, import_tenant: Target,
                                                               tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n{\"also\": \"not an envelope\"}\n", encoding="utf-8")
    result = hocvu(app, "import", "caliper", str(garbage), "--tenant", import_tenant.slug)
    assert result.exit_code == 1
    assert "rejected 2 events" in result.output
    refused = tmp_path / "roster.csv"
    refused.write_text("Mã học viên,Số CCCD\n27,001195001234\n", encoding="utf-8")
    result = hocvu(app, "import", "roster", str(refused), "--tenant", import_tenant.slug, "--lms-url", LMS)
    assert result.exit_code == 1
    assert "column 'Số CCCD' holds citizen ID numbers" in result.output
    result = hocvu(app, "import", "caliper", str(tmp_path / "missing.jsonl"), "--tenant", import_tenant.slug)
    assert result.exit_code == 1 and "cannot read" in result.output
    result = hocvu(app, "import", "caliper", str(DATA / "caliper_events.jsonl"), "--tenant", "no-such-tenant")
    assert result.exit_code == 1 and "no tenant 'no-such-tenant'" in result.output
    result = hocvu(app, "import", "scorm", str(DATA / "scorm_runtime.jsonl"), "--tenant", import_tenant.slug)
    assert result.exit_code == 1 and "needs --lms-url" in result.output


def test_every_import_command_has_help(app: Flask) -> None:
    for command in ("caliper", "scorm", "moodle-log", "roster"):
        result = hocvu(app, "import", command, "--help")
        assert result.exit_code == 0 and "--tenant" in result.output and "--dry-run" in result.output
