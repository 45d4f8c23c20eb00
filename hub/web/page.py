"""The status page as HTML (pure); the health machine in it is hub/web/diagram.py's SVG.

Everything is rendered here, on the server, from a published `HubStatus`; the page's
small script only fetches the live part again (`/live`) every few seconds and swaps it
in, so there is one rendering of every state and nothing is fetched from elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from hub.display.pages import PagesShown
from hub.formatting import duration
from hub.notify.console import diagnostic_line
from hub.status.history import DAY_SECONDS
from hub.status.model import HubStatus
from hub.status.timeline import span_label, span_start
from hub.storage.incidents import held_reason
from hub.web.diagram import STATE_COLOURS, health_svg
from machines import HealthState, Notice, NoticeKind

#: Seconds between refreshes of the live part; the page is for people, not a scraper.
REFRESH_SECONDS = 5
#: Pixels per Pixoo pixel for the frame on the page (64 × 4 = 256 px).
PAGE_FRAME_SCALE = 4
#: The download is what Discord's `preview` answers with: 512×512, each LED a square.
DOWNLOAD_FRAME_SCALE = 8

HEALTH_COLOURS = {"healthy": "#2f9e44", "degraded": "#f76b15", "unhealthy": "#e5484d"}
_KIND_COLOURS = {
    NoticeKind.ALERT: "#e5484d",
    NoticeKind.REMINDER: "#f76b15",
    NoticeKind.RECOVERY: "#2f9e44",
    NoticeKind.STARTED: "#3498db",
    NoticeKind.STOPPED: "#95a5a6",
    NoticeKind.DIAGNOSTIC: "#7950f2",  # a report from another app, whatever its level
}


# -- the page ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PageView:
    """What the page shows besides the status itself (decided by the web server)."""

    health: str  # healthy | degraded | unhealthy
    reasons: tuple[str, ...]
    frame_src: str | None  # relative URL of the frame image, None before the first frame
    now: float
    zone: ZoneInfo | None = None
    #: relative URL of the 24-hour timeline picture (None: not shown)
    timeline_src: str | None = None
    #: relative URL of the frame at 8×, offered as a download (None before the first frame)
    download_src: str | None = None
    #: the display's page and `[[page]]` rotation (None: not known to the server)
    pages: PagesShown | None = None


def _clock(at: float, zone: ZoneInfo | None) -> str:
    return datetime.fromtimestamp(at, tz=zone).astimezone(zone).strftime("%H:%M:%S")


def notice_summary(notice: Notice) -> str:
    """One line about a notice, without its time and component (the page shows those)."""
    error = notice.error_type
    if notice.error_detail and notice.error_detail != notice.error_type:
        error = f"{error}: {' '.join(notice.error_detail.split())[:160]}"
    if notice.kind is NoticeKind.ALERT:
        return (f"failing for {duration(notice.failing_for_seconds)}, {notice.failures} "
                f"failures · {error}")
    if notice.kind is NoticeKind.REMINDER:
        return (f"reminder {notice.reminder}: still failing after "
                f"{duration(notice.failing_for_seconds)} · {error}")
    if notice.kind is NoticeKind.RECOVERY:
        return f"recovered after {duration(notice.downtime_seconds or 0.0)} of downtime"
    if notice.kind is NoticeKind.DIAGNOSTIC:
        return diagnostic_line(notice)
    if notice.kind is NoticeKind.SILENCE:
        return " ".join(notice.error_detail.split())[:200]
    return " · ".join(f"{label}: {value}" for label, value in notice.details)


def _pill(text: str, colour: str) -> str:
    return f'<span class="pill" style="background:{colour}">{escape(text)}</span>'


def _component_rows(status: HubStatus, view: PageView) -> str:
    latency = dict(status.source_latency_seconds)
    values = dict(status.values)
    rows = []
    ordered = sorted(status.machines, key=lambda s: (not s.state.is_incident_open,
                                                     s.state is HealthState.HEALTHY,
                                                     s.component))
    for s in ordered:
        error, error_class = "", "error"
        if s.last_error_type and s.state is not HealthState.HEALTHY:
            error = s.last_error_type + (f": {s.last_error}" if s.last_error
                                         and s.last_error != s.last_error_type else "")
            if s.state is HealthState.RECOVERED:  # history now, not a failure: no red
                error, error_class = f"last error (before recovery): {error}", "resolved"
        notes = []
        incident = status.incident_of(s.component)
        if incident is not None:
            notes.append(incident)
        if s.component in values:
            notes.append(f"value {values[s.component]:g}")
        if s.component in latency:
            notes.append(f"{latency[s.component] * 1000:.0f} ms")
        if s.next_reminder_at is not None:
            notes.append(f"next reminder {_clock(s.next_reminder_at, view.zone)}")
        stats = status.stats_of(s.component)
        if stats is not None and stats.words():
            notes.append(stats.words())
        last_success = (_clock(s.last_success_at, view.zone)
                        if s.last_success_at is not None else "never")
        rows.append(
            f'<tr data-component="{escape(s.component)}" data-state="{s.state.value}">'
            f'<th scope="row">{escape(s.component)}</th>'
            f'<td>{_pill(s.state.value, STATE_COLOURS[s.state])}</td>'
            f'<td class="num">{escape(duration(status.at - s.since))}</td>'
            f'<td class="num">{s.failures or ""}</td>'
            f'<td class="num">{last_success}</td>'
            f'<td class="detail"><span class="{error_class}">{escape(error[:200])}</span>'
            f'{"<br>" if error and notes else ""}'
            f'<span class="notes">{escape(" · ".join(notes))}</span></td></tr>')
    if not rows:
        rows.append('<tr><td colspan="6" class="empty">nothing is watched yet</td></tr>')
    return "".join(rows)


def _notice_items(notices: Sequence[Notice], view: PageView, empty: str) -> str:
    items = []
    for notice in reversed(notices):
        incident = f" {notice.incident}" if notice.incident else ""
        held = held_reason(notice)
        items.append(
            f'<li><time>{_clock(notice.at, view.zone)}</time>'
            f'{_pill(notice.kind.value, _KIND_COLOURS.get(notice.kind, "#6c757d"))}'
            f'<b>{escape(notice.component)}</b>{escape(incident)} '
            f'{f"<em>held: {escape(held)}</em> " if held else ""}'
            f'<span>{escape(notice_summary(notice))}</span></li>')
    return "".join(items) or f'<li class="empty">{escape(empty)}</li>'


def _silences_section(status: HubStatus, view: PageView) -> str:
    """The silences in force (who, why, until) and what the policy held lately."""
    lines = [f"<li>{escape(s.describe(view.zone))}</li>" for s in status.silences]
    if not status.notifications:
        lines.insert(0, "<li><b>notifications are off</b> ([hub] notifications = false): "
                        "everything is recorded, nothing is sent</li>")
    if not lines and not status.held_notices:
        return ""
    held = (f'<h3>Held lately</h3><ol class="notices">'
            f'{_notice_items(status.held_notices, view, "")}</ol>'
            if status.held_notices else "")
    return (f'<section><h2>Silences</h2><ul class="silences">'
            f'{"".join(lines) or "<li class=empty>none in force</li>"}</ul>{held}</section>')


def render_live(status: HubStatus, view: PageView) -> str:
    """The part of the page that changes: fetched again by the page every few seconds."""
    delivery = "no delivery"
    if status.delivery is not None:
        delivery = f"delivery via {status.delivery.transport}: {status.delivery.state}"
        if status.delivery.detail:
            delivery += f" ({status.delivery.detail})"
    facts = [f"up {duration(status.at - status.started_at)}",
             f"outbox {status.outbox_depth} queued", delivery]
    if status.discord_latency_seconds is not None:
        facts.append(f"Discord latency {status.discord_latency_seconds * 1000:.0f} ms")
    open_count = sum(1 for s in status.machines if s.state.is_incident_open)
    headline = (f"{open_count} of {len(status.machines)} components failing" if open_count
                else f"all {len(status.machines)} components fine")
    if view.frame_src is not None:
        frame = (f'<img class="frame" src="{escape(view.frame_src)}" width="256" height="256" '
                 'alt="the frame on the Pixoo">')
    else:
        frame = '<div class="frame noframe">no frame yet</div>'
    reasons = "".join(f"<li>{escape(r)}</li>" for r in view.reasons)
    return (
        f'<div id="live-state" data-health="{view.health}" data-at="{status.at}">'
        '<section class="top">'
        f'<figure>{frame}<figcaption>{_frame_caption(view)}</figcaption></figure>'
        '<div class="summary">'
        f'<p class="health" style="border-color:{HEALTH_COLOURS[view.health]}">'
        f'{_pill(view.health, HEALTH_COLOURS[view.health])} {escape(headline)}</p>'
        f'{f"<ul class=reasons>{reasons}</ul>" if reasons else ""}'
        f'<p class="facts">{escape(" · ".join(facts))}</p>'
        '<table class="components"><thead><tr><th>component</th><th>state</th><th>for</th>'
        '<th>failures</th><th>last success</th><th>detail</th></tr></thead>'
        f'<tbody>{_component_rows(status, view)}</tbody></table>'
        '</div></section>'
        f'{_timeline_section(status, view)}'
        f'{_fleet_section(status, view)}'
        '<section><h2>Health machine</h2>'
        f'<div class="diagram-wrap">{health_svg(status.machines, status.at)}</div></section>'
        f'{_silences_section(status, view)}'
        '<section><h2>Recent notices</h2><ol class="notices">'
        f'{_notice_items(status.recent_notices, view, "no notices since start")}'
        '</ol></section></div>'
    )


def _frame_caption(view: PageView) -> str:
    """"on the display", the page it shows when pages rotate, and the 8× download."""
    caption = "on the display"
    pages = view.pages
    if pages is not None and pages.rotation:
        caption += (f': the <b class="page-name">{escape(pages.showing)}</b> page'
                    f'<br><small class="rotation">pages: {escape(" → ".join(pages.rotation))}'
                    '</small>')
    if view.download_src is not None:
        caption += (f'<br><a class="download" href="{escape(view.download_src)}" '
                    'download="pixoo-frame.png">download ×8</a>')
    return caption


def _fleet_section(status: HubStatus, view: PageView) -> str:
    """What Alertmanager fires (its webhook), and how forwarding there goes, with the
    silences read back from it; nothing when the hub is in no fleet (hub/fleet/)."""
    fleet = status.fleet
    if fleet.forwarding is None and not fleet.alerts:
        return ""
    items = [f'<li class="fleet-alert">{_pill("firing", "#dc3545")}'
             f'<span>{escape(alert.line())}</span></li>' for alert in fleet.alerts]
    if not items:
        items.append('<li class="empty">Alertmanager fires nothing here</li>')
    forwarding = ""
    if fleet.forwarding is not None:
        f = fleet.forwarding
        state = f"failing: {f.last_error}" if f.last_error else "working"
        forwarding = (f'<p class="facts">incidents forwarded to {escape(f.url)}: '
                      f'{f.open_alerts} open, {f.waiting} waiting; {escape(state)}</p>')
        silences = "".join(
            f'<li class="silence">{_pill("silenced", "#6c757d")}'
            f'<b>{escape(s.describe())}</b> <span>until {_clock(s.ends_at, view.zone)} by '
            f'{escape(s.created_by)}: {escape(s.comment)}</span></li>' for s in fleet.silences)
        forwarding += f'<ul class="notices">{silences}</ul>' if silences else ""
    return (f'<section><h2>Fleet</h2><ul class="notices">{"".join(items)}</ul>'
            f'{forwarding}</section>')


def _timeline_section(status: HubStatus, view: PageView) -> str:
    """The timeline picture under a heading that says its span (hub/status/timeline.py)."""
    if view.timeline_src is None:
        return ""
    start = span_start(status.history, view.now)
    span = span_label(start, view.now)
    heading = "Last 24 hours"
    if view.now - start < DAY_SECONDS:  # a young history: the picture begins with it
        heading = f"Since {_clock(start, view.zone)[:5]} (last {span})"
    return (f'<section><h2>{escape(heading)}</h2>'
            f'<img class="timeline" src="{escape(view.timeline_src)}" '
            f'alt="every component\'s states over the last {escape(span)}"></section>')


SCRIPT = f"""
(() => {{
  const token = new URLSearchParams(location.search).get("token");
  const query = token ? "?token=" + encodeURIComponent(token) : "";
  const live = document.getElementById("live");
  const stamp = document.getElementById("updated");
  async function refresh() {{
    try {{
      const response = await fetch("live" + query, {{cache: "no-store"}});
      if (!response.ok) throw new Error("HTTP " + response.status);
      const next = document.createElement("div");
      next.innerHTML = await response.text();
      // A picture whose address did not change keeps its element: a new one would be
      // fetched again and show blank until it arrives, a blink on every refresh.
      const pictures = new Map(Array.from(live.querySelectorAll("img"),
                                          (img) => [img.getAttribute("src"), img]));
      for (const img of next.querySelectorAll("img")) {{
        const same = pictures.get(img.getAttribute("src"));
        if (same) img.replaceWith(same);
      }}
      live.replaceChildren(...next.childNodes);
      const state = document.getElementById("live-state");
      document.title = document.title.replace(/ · .*$/, " · " + state.dataset.health);
      stamp.textContent = "live · updated " + new Date().toLocaleTimeString([], {{hour12: false}});
      stamp.className = "ok";
    }} catch (error) {{
      stamp.textContent = "cannot reach the hub (" + error.message + "), retrying";
      stamp.className = "bad";
    }}
  }}
  refresh();
  setInterval(refresh, {REFRESH_SECONDS * 1000});
}})();
"""
#: For the Content-Security-Policy: only this script may run on the page.
SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (f"default-src 'none'; script-src '{SCRIPT_HASH}'; "
                           "style-src 'unsafe-inline'; img-src 'self'; connect-src 'self'; "
                           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       background: #f1f3f5; color: #212529; }
header { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px;
         background: #1f2933; color: #f8f9fa; }
header h1 { margin: 0; font-size: 20px; font-weight: 650; }
header .sub { color: #adb5bd; }
#updated { margin-left: auto; font-size: 12px; color: #adb5bd; }
#updated.bad { color: #ff8787; }
main { padding: 18px 24px; max-width: 1180px; }
section { background: #fff; border-radius: 12px; padding: 16px 18px; margin-bottom: 16px;
          box-shadow: 0 1px 2px rgba(0,0,0,.06); }
/* On a phone the summary goes under the frame instead of squeezing beside it. */
section.top { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
h2 { margin: 0 0 10px; font-size: 15px; color: #495057; font-weight: 650; }
figure { margin: 0; text-align: center; }
figcaption { font-size: 12px; color: #868e96; margin-top: 6px; }
/* The frame whole and square: no rounded corners (the alert mark is the top-right
   pixels), hard pixel edges if the browser zooms. */
.frame { display: block; width: 256px; height: 256px; image-rendering: pixelated;
         background: #000; }
.noframe { display: flex; align-items: center; justify-content: center; color: #868e96; }
.summary { flex: 1 1 360px; min-width: 0; }
.health { margin: 0 0 6px; font-size: 17px; font-weight: 600; padding-left: 10px;
          border-left: 5px solid; }
.reasons { margin: 4px 0 6px; padding-left: 22px; color: #495057; }
.facts { margin: 0 0 12px; color: #495057; font-size: 13px; }
.pill { display: inline-block; padding: 1px 9px; border-radius: 10px; color: #fff;
        font-size: 12px; font-weight: 600; margin-right: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 6px 6px; border-bottom: 1px solid #e9ecef;
         vertical-align: top; }
thead th { font-weight: 600; color: #868e96; font-size: 12px; }
tbody th { font-weight: 600; white-space: nowrap; }
td.num { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.detail { width: 40%; overflow-wrap: anywhere; }
.error { color: #c92a2a; }
.resolved { color: #495057; }
.notes { color: #868e96; }
.empty { color: #868e96; }
.diagram-wrap { overflow-x: auto; }
img.timeline { display: block; max-width: 100%; height: auto; }
svg.diagram { display: block; max-width: 100%; height: auto; background: #f8f9fa;
              border-radius: 8px; }
ol.notices { list-style: none; margin: 0; padding: 0; }
ol.notices li { padding: 5px 0; border-bottom: 1px solid #f1f3f5; }
ol.notices time { display: inline-block; width: 72px; color: #868e96;
                  font-variant-numeric: tabular-nums; }
ol.notices b { margin-right: 6px; }
"""


def render_page(status: HubStatus, view: PageView) -> str:
    """The whole page; its script keeps the live part current."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(status.hub_name)} · {view.health}</title>'
        f'<style>{STYLE}</style></head><body>'
        f'<header><h1>{escape(status.hub_name)}</h1><span class="sub">divoom-hub status</span>'
        f'<span id="updated">as of {_clock(status.at, view.zone)}</span></header>'
        f'<main id="live">{render_live(status, view)}</main>'
        f'<script>{SCRIPT}</script></body></html>'
    )
