// A parent in Element Web: logs in, accepts the invite, sees the consent request, replies "ja" to it
// with Element's own Reply, and sees the request edited. Stdout: READY (then reads the room id), then JSON.
// Phone-sized shots: the viewport at 390x844 with the space bar and room list hidden (Element's phone
// apps show the timeline alone), as the element branch's walk.mjs does.
import { launch, newContext, loginAndSettle, openRoom, dismissOnce } from "./element.mjs";
import readline from "node:readline";
import path from "node:path";

const [elementUrl, homeserver, user, password, outDir, prefix, answer, requestText, doneText] = process.argv.slice(2);
const LAPTOP = { width: 1280, height: 800 }, PHONE = { width: 390, height: 844 };
const PHONE_CSS = ".mx_LeftPanel_outerWrapper, .mx_LeftPanel_wrapper, .mx_SpacePanel, .mx_LeftPanel, .mx_ResizeHandle { display: none !important; }";
const browser = await launch();
const ctx = await newContext(browser, { homeserver, viewport: LAPTOP });
const page = await ctx.newPage();
await loginAndSettle(page, { elementUrl, user, password, settleSeconds: 4 });
console.log("READY");
const lines = readline.createInterface({ input: process.stdin });
const room = await new Promise((resolve) => lines.once("line", (l) => resolve(l.trim())));
const shots = [];
const tileOf = (text) => page.locator(".mx_RoomView_body .mx_EventTile_line .mx_EventTile_body", { hasText: text }).first()
    .locator("xpath=ancestor::*[contains(@class,'mx_EventTile')][1]");
/** Scroll the timeline until the message with `text` is on screen (Element renders only what is near it). */
async function reveal(text) {
    await page.mouse.move(page.viewportSize().width / 2, page.viewportSize().height / 2);
    for (let i = 0; i < 60; i++) {
        if (await tileOf(text).count()) {
            // Scroll the timeline only (scrollIntoView would scroll the page and shift Element's layout).
            await tileOf(text).evaluate((el) => {
                const panel = el.closest(".mx_ScrollPanel");
                panel.scrollTop += el.getBoundingClientRect().top - panel.getBoundingClientRect().top - 8;
            });
            return;
        }
        await page.mouse.wheel(0, -700);
        await page.waitForTimeout(250);
    }
    throw new Error("message not found: " + text);
}
async function shoot(name, text) {
    for (const [size, viewport] of [["phone", PHONE], ["laptop", LAPTOP]]) {
        await page.setViewportSize(viewport);
        const style = size === "phone" ? await page.addStyleTag({ content: PHONE_CSS }) : null;
        await page.waitForTimeout(700);
        await dismissOnce(page);
        await page.mouse.move(viewport.width - 20, 60);
        await reveal(text);
        await page.waitForTimeout(500);
        const file = path.join(outDir, `${prefix}-${name}-${size}.png`);
        await page.screenshot({ path: file });
        shots.push(file);
        if (style) await style.evaluate((node) => node.remove());
    }
    await page.setViewportSize(LAPTOP);
}
const state = await openRoom(page, room);
if (state === "invite") {
    await page.locator(".mx_RoomView").getByRole("button", { name: "Accept" }).click();
    await page.locator(".mx_RoomView .mx_BasicMessageComposer_input").waitFor({ timeout: 60000 });
}
await tileOf(requestText).waitFor({ timeout: 60000 });
await shoot("before", requestText);
// Element's Reply: hover the request, "Reply" in its action bar, type the answer, Enter.
const request = tileOf(requestText);
await request.hover();
await page.locator(".mx_MessageActionBar").getByRole("button", { name: "Reply" }).first().click();
const composer = page.locator(".mx_RoomView_body .mx_BasicMessageComposer_input").first();
await composer.fill(answer);
await composer.press("Enter");
await tileOf(doneText).waitFor({ timeout: 60000 });
await page.waitForTimeout(1500); // the bot's confirmation lands below
await shoot("after", doneText);
const timeline = await page.evaluate(() => [...document.querySelectorAll(".mx_RoomView_body .mx_EventTile .mx_EventTile_body")].slice(-4).map((e) => e.innerText));
console.log(JSON.stringify({ ok: true, shots, timeline }));
await browser.close();
process.exit(0);
