"""A bot killed with SIGKILL sends every reminder that came due while it was dead, once, late."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.harness import BotProcess
from tests.integration.care import open_case

STOCKHOLM = ZoneInfo("Europe/Stockholm")
DUE = datetime(2026, 12, 1, 10, 0, tzinfo=STOCKHOLM)


def _config(path: Path, synapse, user_id: str, password: str, shift: float) -> None:  # noqa: ANN001
    path.write_text(
        f'homeserver = "{synapse.url}"\nuser_id = "{user_id}"\npassword = "{password}"\n'
        f'data_dir = "data"\nallowed_inviters = ["*:{synapse.server_name}"]\nlanguage = "en"\n'
        f"time_shift_seconds = {shift}\nlog_level = \"INFO\"\n",
        encoding="utf-8",
    )


def _shift_to(moment: datetime) -> float:
    return (moment - datetime.now(timezone.utc)).total_seconds()


async def test_reminders_due_while_the_bot_was_killed_are_sent_once_and_marked_late(synapse, new_user, make_member, tmp_path):
    user_id, password = await new_user(prefix="homeward")
    config = tmp_path / "homeward.toml"
    shift = _shift_to(DUE) - 40  # the bot's clock starts 40 s before the reminders are due
    _config(config, synapse, user_id, password, shift)
    bot = BotProcess(config, tmp_path / "bot.log")
    await bot.start()
    try:
        anna = await make_member("anna")
        runner = type("Runner", (), {"user_id": user_id})()
        room, _ = await open_case(anna, runner, "orebro", "Sjostjerne")
        await anna.command(room, f"!role {anna.user_id} slutenvard coordinator")
        await anna.command(room, "!plan admission 2026-11-30 10:00")  # Inskrivningsmeddelande due 10:00
        for item in ("generellt-meddelande", "kontaktperson-kommun", "konsultation"):
            answer = await anna.command(room, f"!remind {item} 2026-12-01 10:00")
            assert answer.content["homeward.status"] == "ok", answer.content["body"]

        await bot.kill()  # dead before 10:00; the reminders come due while it is down
        await asyncio.sleep(2)
        _config(config, synapse, user_id, password, shift + 180)  # and it stays dead for three minutes of its time
        await bot.start()

        expected = {("inskrivningsmeddelande", "due"), ("generellt-meddelande", "custom"),
                    ("kontaktperson-kommun", "custom"), ("konsultation", "custom")}

        def sent() -> list[tuple[str, str]]:
            return [
                (s.content["homeward.reminder"]["item"], s.content["homeward.reminder"]["kind"])
                for s in anna.seen if s.room_id == room and "homeward.reminder" in s.content
            ]

        for _ in range(120):
            if set(sent()) >= expected:
                break
            await asyncio.sleep(0.25)
        await anna.command(room, "!ping", timeout=30)
        await asyncio.sleep(2)

        assert sorted(sent()) == sorted(expected)  # each exactly once
        for seen in (s for s in anna.seen if s.room_id == room and "homeward.reminder" in s.content):
            reminder = seen.content["homeward.reminder"]
            assert reminder["late"] is True
            assert datetime.fromisoformat(reminder["planned_at"]) == DUE
            assert "10:00" in seen.content["body"]
    finally:
        await bot.stop()
