"""The bulk buttons as a new user meets them in the demo's workspace page, driven in a real headless Chromium:
"Acknowledge all triggered (N)" with its confirmation, then "Select…" to resolve two (confirmed once more)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from bot.sim.stack import LocalStack
from bot.slack.blocks import ActionId
from tests.test_workspace_page import CHANNEL, in_chromium

SCREENSHOT = Path(__file__).resolve().parent.parent / "test-artifacts" / "bulk.png"


@pytest.mark.slow  # a browser
async def test_bulk_acknowledge_and_select_from_the_page_in_chromium(tmp_path: Path) -> None:
    await in_chromium(
        tmp_path, lambda stack, page, url: work_in_bulk(stack, page, f"{url}/?channel={CHANNEL}"), SCREENSHOT
    )


async def work_in_bulk(stack: LocalStack, page: Page, url: str) -> None:
    await page.goto(url)
    await page.select_option("#user-picker", "U0ALICE")
    composer = page.locator("#composer")
    await composer.fill("/vo list")
    await composer.press("Enter")
    triggered = stack.open_numbers("UNACKED")
    bar = page.locator('[data-ephemeral="true"] [data-block-id="listing-actions"]')
    ack_all = bar.locator(f'button[data-action-id="{ActionId.ACK_TRIGGERED}"]')
    await expect(ack_all).to_have_text(f"Acknowledge all triggered ({len(triggered)})")

    await ack_all.click()  # Slack's confirmation, naming N
    await expect(page.locator("#confirm .confirm-title")).to_have_text(
        f"Acknowledge {len(triggered)} triggered incidents?"
    )
    await page.locator("#confirm-ok").click()
    await stack.until(lambda: all(stack.incident(n)["currentPhase"] == "ACKED" for n in triggered), within=5)
    await expect(page.get_by_text(f"Acknowledged {len(triggered)} incidents by you").first).to_be_visible()
    await expect(ack_all).to_have_count(0)  # redrawn: nothing triggered is left
    assert [c.path for c in stack.writes()] == ["/api-public/v1/incidents/ack"]

    await bar.locator(f'button[data-action-id="{ActionId.SELECT}"]').click()
    modal = page.locator("#modal")
    await expect(modal.locator(".modal-title")).to_have_text("Act on incidents")
    chosen = triggered[:2]
    for number in chosen:
        await modal.locator(f'.multi-option input[value="{number}"]').check()
    await modal.locator('[data-block-id="action"] select').select_option("resolve")
    await modal.locator("#modal-submit").click()
    await expect(modal.locator(".modal-title")).to_have_text("Resolve incidents?")
    await expect(modal).to_contain_text("Resolve these 2 incidents in VictorOps?")
    await modal.locator("#modal-submit").click()
    await stack.until(lambda: all(stack.incident(n)["currentPhase"] == "RESOLVED" for n in chosen), within=5)
    await expect(modal).to_be_hidden()
    await expect(page.get_by_text("Resolved 2 incidents by you").first).to_be_visible()
    paths = [c.path for c in stack.writes()]
    assert paths == ["/api-public/v1/incidents/ack", "/api-public/v1/incidents/resolve"]
