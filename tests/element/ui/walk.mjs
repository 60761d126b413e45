// A demo case walked through the real Element Web, screenshots on the way (`make screenshots`).
//
//   SCREENS='{"elementUrl":…,"homeserver":…,"bot":…,"users":{role:{user,password,id}},"out":DIR}' node walk.mjs
//
// Driven by tests/element/ui/screenshots.py, which runs the homeserver and the bot. When the walk
// needs time to pass (a reminder), it prints `@@clock <name>` on stdout and waits for a line on
// stdin; `@@cases` asks it to open the coordinator's other cases (for the desk pictures) the same
// way. Every other stdout line is a log line; the last one is a JSON summary. A walk that fails
// leaves a picture of each person's window in `failures` (a scratch folder, never docs/).
//
// Four people, one browser context (profile, device) each, all logged in before anything is sent
// (a device that logs in later cannot read earlier messages). Element runs with its "exclude
// insecure devices" setting on, as a hospital would configure it (SCREENS_EXCLUDE_INSECURE=0: off).
// The summary lists each person's desktop notifications and the messages of the bot their Element
// could not decrypt, with Element's reason.

import readline from "node:readline";
import * as E from "./element.mjs";

const cfg = JSON.parse(process.env.SCREENS);
const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const shots = [];
const timings = [];
const met = [];
const blocked = new Set();

const stdin = readline.createInterface({ input: process.stdin });
const lines = stdin[Symbol.asyncIterator]();
/** Ask screenshots.py to do something outside Element (`@@clock <name>`, `@@cases`) and wait until it is done. */
async function ask(request) {
    console.log(`@@${request}`);
    const { value } = await lines.next();
    if (value?.trim() !== "ok") throw new Error(`${request}: ${value}`);
}
const clock = (name) => ask(`clock ${name}`);
const browser = await E.launch();
const people = {};
for (const role of ["coordinator", "nurse", "caseofficer", "guardian"]) {
    const ctx = await E.newContext(browser, {
        blocked, homeserver: cfg.homeserver, serverName: cfg.serverName, viewport: LAPTOP,
        config: { features: { feature_exclude_insecure_devices: process.env.SCREENS_EXCLUDE_INSECURE !== "0" } },
    });
    // Desktop notifications, as Element shows them (title, body), recorded instead of shown.
    await ctx.addInitScript(() => {
        const shown = (window.__notifications = []);
        window.Notification = class {
            static permission = "granted";
            static requestPermission() { return Promise.resolve("granted"); }
            constructor(title, options = {}) { shown.push({ title, body: options.body ?? "" }); }
            close() {}
            addEventListener() {}
        };
    });
    const page = await ctx.newPage();
    people[role] = { ...cfg.users[role], page };
}

/** The desktop notifications Element has shown `who` so far. */
const notifications = (who) => people[who].page.evaluate(() => window.__notifications ?? []);

// Element Web keeps its space bar and room list on a narrow window, leaving the timeline a third
// of a phone's width; Element's phone apps show the timeline alone. A phone-sized picture hides
// the two panels (nothing else), so it shows a message as wide as a phone shows it.
const PHONE_CSS = ".mx_LeftPanel_outerWrapper, .mx_LeftPanel_wrapper, .mx_SpacePanel, .mx_LeftPanel, .mx_ResizeHandle { display: none !important; }";

/** A screenshot of `who`'s window, laptop-sized or phone-sized; `show`: scroll that message into view. */
async function shot(who, name, { phone = false, show, block } = {}) {
    const { page } = people[who];
    let style;
    if (phone) {
        await page.setViewportSize(PHONE);
        style = await page.addStyleTag({ content: PHONE_CSS });
        await page.waitForTimeout(700); // Element lays the timeline out again
    }
    await E.dismissOnce(page, met);
    if (show) await reveal(page, show, block);
    // No hover and no focus: the pointer in the window's bottom-right corner (no message, button or
    // tooltip there), and nothing focused (Element shows a focused button's tooltip).
    await page.mouse.move(page.viewportSize().width - 2, page.viewportSize().height - 2);
    await page.evaluate(() => document.activeElement?.blur());
    await page.waitForTimeout(300);
    const file = `${cfg.out}/${name}.png`;
    await page.screenshot({ path: file });
    shots.push(file);
    E.log("screenshot", file);
    if (phone) {
        await style.evaluate((node) => node.remove());
        await page.setViewportSize(LAPTOP);
        await page.waitForTimeout(300);
    }
}

/** `who` types `text` in the open room; the bot's messages after it are what `botSays` looks at. */
async function say(who, text) {
    const person = people[who];
    person.since = Date.now() - 2000;
    await E.step(`${who}: ${text}`, () => E.sendMessage(person.page, text), timings);
}

/**
 * The bot's messages in `who`'s Element, read from Element's own client (window.mxMatrixClientPeg),
 * not from the page: Element renders only the part of the timeline near the screen.
 */
function botMessages(who) {
    return people[who].page.evaluate((bot) => {
        const client = window.mxMatrixClientPeg.get();
        return client.getRooms().flatMap((room) => room.getLiveTimeline().getEvents()
            .filter((e) => e.getSender() === bot && (e.getType() === "m.room.message" || e.isDecryptionFailure()))
            .map((e) => ({ room: room.name, ts: e.getTs(), body: e.getContent()?.body ?? "", failure: e.isDecryptionFailure() ? (e.decryptionFailureReason ?? "unknown") : null, sender: e.getSender() })));
    }, cfg.bot);
}

/** Until `who`'s Element has decrypted a message of the bot containing `text` (sent after `who`'s last command). */
function botSays(who, text, { timeout = 60000 } = {}) {
    const person = people[who];
    return E.step(`${who} sees the bot say "${text}"`, async () => {
        const deadline = Date.now() + timeout;
        const since = person.since ?? 0;
        for (;;) {
            const messages = (await botMessages(who)).filter((m) => m.ts >= since);
            if (messages.some((m) => m.failure === null && m.body.includes(text))) break;
            if (Date.now() > deadline) {
                throw new Error(`${who}: the bot did not say "${text}" within ${timeout} ms; undecryptable: ${JSON.stringify(messages.filter((m) => m.failure))}`);
            }
            await person.page.waitForTimeout(250);
        }
        person.since = undefined;
        await person.page.waitForTimeout(400); // rendered in full (pills, code)
    }, timings);
}

/** Scroll `page`'s timeline until the last message containing `text` is on screen (Element renders lazily). */
async function reveal(page, text, block = "center") {
    const tile = page.locator(".mx_RoomView_body .mx_EventTile", { hasText: text }).last();
    for (let i = 0; i < 90 && !(await tile.count()); i++) {
        await page.locator(".mx_RoomView_messagePanel").evaluate((panel) => panel.scrollBy(0, -600));
        await page.waitForTimeout(300);
    }
    // Scroll the timeline's own panel only: scrollIntoView would scroll Element's outer layout
    // too, and the picture would lose the room header at the top.
    await tile.evaluate((node, block) => {
        const panel = node.closest(".mx_ScrollPanel");
        const tile = node.getBoundingClientRect();
        const view = panel.getBoundingClientRect();
        const by = { start: tile.top - view.top - 8, end: tile.bottom - view.bottom + 8 }[block] ?? (tile.top + tile.bottom - view.top - view.bottom) / 2;
        panel.scrollTop += by;
    }, block);
    await page.waitForTimeout(300);
}
/** `who` opens the case room from the room list, accepting the invitation when there is one. */
function enterCaseRoom(who) {
    const { page } = people[who];
    return E.step(`${who}: open the case room`, async () => {
        await page.locator(".mx_RoomList").getByRole("treeitem", { name: new RegExp(E.escapeRe(ROOM)) }).first().click({ timeout: 60000 });
        const accept = page.locator(".mx_RoomView").getByRole("button", { name: "Accept" });
        const header = page.locator(".mx_RoomHeader", { hasText: ROOM });
        const composer = page.locator(".mx_RoomView .mx_BasicMessageComposer_input");
        const state = await Promise.race([accept.waitFor({ timeout: 60000 }).then(() => "invite"), header.waitFor({ timeout: 60000 }).then(() => "room")]);
        if (state === "invite") await accept.click();
        await header.waitFor({ timeout: 60000 });
        await composer.waitFor({ timeout: 60000 });
    }, timings);
}
const home = (who) => people[who].page.goto(`${cfg.elementUrl}/#/home`);
const ROOM = cfg.caseRoomName;

async function settle(page) {
    // Scrolled to the bottom, pictures of the newest messages: jump to the end of the timeline.
    await page.keyboard.press("Escape").catch(() => {});
    await page.waitForTimeout(600);
}

let result = { ok: false };
try {
    for (const [role, who] of Object.entries(people)) {
        await E.step(`log in ${role}`, () => E.loginAndSettle(who.page, { elementUrl: cfg.elementUrl, user: who.user, password: who.password, settleSeconds: 4 }, met), timings);
    }
    for (const who of Object.values(people)) {
        await who.page.evaluate(() => window.mxSettingsStore.setValue("notificationsEnabled", null, "device", true));
    }
    const exclude = await people.coordinator.page.evaluate(() => window.mxSettingsStore?.getValue("feature_exclude_insecure_devices"));
    E.log("exclude insecure devices:", exclude);

    // A coordinator carries several children: two more cases, opened from another of the
    // coordinator's devices (screenshots.py), so that the desk at the end has more than one line.
    // That device is verified with the coordinator's recovery key (the bot acts only on devices their owner verified).
    const recoveryKey = await E.step("coordinator: set up recovery", () => E.setUpRecovery(people.coordinator.page, { password: people.coordinator.password }), timings);
    await E.step("coordinator: two more cases", () => ask(`cases ${recoveryKey}`), timings);

    // The coordinator starts a chat with the bot and opens the case.
    const c = people.coordinator.page;
    await E.step("coordinator: chat with the bot", () => E.createRoom(c, "Homeward"), timings);
    await E.step("coordinator: invite the bot", async () => {
        try {
            await E.inviteToCurrentRoom(c, cfg.bot);
        } catch (error) { // the room-info panel sometimes opens on another card: once more from a closed panel
            E.log("invite dialog: trying again after", String(error).split("\n")[0]);
            await c.keyboard.press("Escape");
            await c.locator(".mx_RightPanel").getByRole("button", { name: "Close" }).first().click().catch(() => {});
            await E.inviteToCurrentRoom(c, cfg.bot);
        }
    }, timings);
    await botSays("coordinator", "Homeward");
    await say("coordinator", `!case new orebro ${cfg.label}`);
    await botSays("coordinator", "Öppnade ärendet");
    await shot("coordinator", "01-coordinator-opens-a-case");
    await enterCaseRoom("coordinator");
    await botSays("coordinator", "Checklista");
    // The family's regular word every working day in this walk (default: every five), so the walk's day has one.
    await say("coordinator", "!settings update 1");
    await botSays("coordinator", "Familjen får nu");

    // The team: a hospital nurse, the municipality's case officer, a guardian.
    const invitesFrom = Date.now(); // the checklist is posted again once, at the first join after it
    for (const [role, lane] of [["nurse", "slutenvard"], ["caseofficer", "kommun"], ["guardian", "vardnadshavare"]]) {
        await say("coordinator", `!invite ${people[role].id} ${lane}`);
        await enterCaseRoom(role);
    }

    people.coordinator.since = invitesFrom;
    await botSays("coordinator", "Checklista —");

    // The guardian is asked for consent, by name, and answers.
    const g = people.guardian.page;
    await botSays("guardian", "Vem får informationen"); // the details (the request and its question follow)
    await botSays("guardian", "i frågan nedan"); // the request that names her
    await settle(g);
    await shot("guardian", "03-guardian-consent-request-phone", { phone: true, show: "i frågan nedan", block: "end" });
    // The checklist once nothing more comes after it (the greeting and the request came last), so
    // Element does not scroll it away while the picture is taken.
    people.coordinator.since = invitesFrom;
    await botSays("coordinator", "Vem får informationen");
    await shot("coordinator", "02-coordinator-pinned-checklist", { show: "Checklista —", block: "end" });
    // As a parent would: Element's Reply on the request, and "ja".
    people.guardian.since = Date.now() - 2000;
    await E.step("guardian: replies ja to the request", async () => {
        // The request itself (the short message that names her), not the greeting that names the consent too.
        const request = g.locator(".mx_EventTile", { hasText: "i frågan nedan" }).last();
        await request.hover();
        await g.locator(".mx_MessageActionBar").getByRole("button", { name: "Reply" }).first().click();
        const composer = g.locator(".mx_RoomView_body .mx_BasicMessageComposer_input").first();
        await composer.fill("ja");
        await composer.press("Enter");
    }, timings);
    await botSays("guardian", "du har svarat");
    await shot("guardian", "04-guardian-consented-phone", { phone: true });

    // The coordinator sets the admission date: the deadlines follow.
    await say("coordinator", "!plan admission 2026-11-30 09:00");
    await botSays("coordinator", "Inskrivning på sjukhus");
    await settle(c);
    await shot("coordinator", "05-coordinator-dates-and-deadlines");
    // The SIP: the consent given at admission covers it, so the coordinator writes the plan.
    for (const line of [
        "!plan goal Barnet kan äta och andas tryggt hemma",
        "!plan action 1 slutenvard Utbildning i sondmatning för båda vårdnadshavarna 2026-12-02 2026-12-08",
        "!plan action 1 kommun Hemsjukvård och avlösning efter utskrivningen 2026-12-10 2027-03-01",
        "!plan responsible oppenvard",
        "!plan followup 2027-01-18",
    ]) {
        await say("coordinator", line);
        await botSays("coordinator", "Planen är uppdaterad");
    }

    // A day passes: the Inskrivningsmeddelande is due, and nobody has sent it.
    const n = people.nurse.page;
    await home("nurse");
    await home("caseofficer");
    await clock("inskrivningsmeddelande-due");
    const badge = n.locator(".mx_RoomTile .mx_NotificationBadge_level_highlight").first();
    await E.step("nurse: the room list shows a highlight", () => badge.waitFor({ timeout: 60000 }), timings);
    await shot("nurse", "06-nurse-room-list-highlight-after-a-reminder");
    await enterCaseRoom("nurse");
    await botSays("nurse", "ska vara klart nu");
    await shot("nurse", "07-nurse-reads-the-reminder");
    await shot("nurse", "07-nurse-reads-the-reminder-phone", { phone: true });

    // Nobody sends it that day. The next working day the overdue reminder asks the nurse's lane why;
    // the nurse answers as in any chat: Element's Reply on the question, and one word.
    await clock("inskrivningsmeddelande-overdue");
    await botSays("nurse", "varför försenat");
    people.nurse.since = Date.now() - 2000;
    await E.step("nurse: replies one word to the question", async () => {
        // The pictures before left the timeline scrolled up, and Element renders only what is near the
        // screen: to the newest message first, then the question in view.
        await n.locator(".mx_RoomView_messagePanel").evaluate((panel) => { panel.scrollTop = panel.scrollHeight; });
        await n.waitForTimeout(500);
        await reveal(n, "varför försenat");
        const question = n.locator(".mx_RoomView_body .mx_EventTile", { hasText: "varför försenat" }).last();
        await question.hover();
        await n.locator(".mx_MessageActionBar").getByRole("button", { name: "Reply" }).first().click();
        const composer = n.locator(".mx_RoomView_body .mx_BasicMessageComposer_input").first();
        await composer.fill("information");
        await composer.press("Enter");
    }, timings);
    await botSays("nurse", "eftersom");
    await shot("nurse", "13-nurse-asked-why-phone", { phone: true, show: "varför försenat", block: "start" });

    // The nurse sends it; the municipality's case officer acknowledges (kvitterar).
    await say("nurse", "!send inskrivningsmeddelande");
    await botSays("nurse", "Skickade");
    const k = people.caseofficer.page;
    await E.step("caseofficer: highlight", () => k.locator(".mx_RoomTile .mx_NotificationBadge_level_highlight").first().waitFor({ timeout: 60000 }), timings);
    await enterCaseRoom("caseofficer");
    await botSays("caseofficer", "kvittera med");
    await shot("caseofficer", "08-caseofficer-receives-the-notice-phone", { phone: true });
    await say("caseofficer", "!ack inskrivningsmeddelande");
    await botSays("caseofficer", "kvitterat för Kommun");
    await shot("caseofficer", "09-caseofficer-acknowledged");

    // Where the case stands.
    await say("coordinator", "!status");
    await botSays("coordinator", "Status för");
    await settle(c);
    await shot("coordinator", "10-coordinator-status", { show: "Status för", block: "start" });

    // The coordinator's desk, in their direct chat with the bot: the worklist now, and every case.
    await E.step("coordinator: open the chat with the bot", () => E.openRoom(c, "Homeward"), timings);
    await say("coordinator", "!digest");
    await botSays("coordinator", "Din arbetslista");
    await settle(c);
    await shot("coordinator", "11-coordinator-worklist", { show: "Din arbetslista", block: "start" });
    await shot("coordinator", "11-coordinator-worklist-phone", { phone: true, show: "Din arbetslista", block: "start" });
    await say("coordinator", "!cases");
    await botSays("coordinator", "Dina öppna ärenden");
    await settle(c);
    await shot("coordinator", "12-coordinator-cases", { show: "Dina öppna ärenden", block: "start" });
    await shot("coordinator", "12-coordinator-cases-phone", { phone: true, show: "Dina öppna ärenden", block: "start" });

    // The family's side, on the guardian's phone (and a laptop): the next consent in one tap, where the
    // case stands, what she can do here, and the day's word to the family.
    await enterCaseRoom("guardian");
    await settle(g);
    // The laptop first, then the phone: after the phone's narrower layout Element may have dropped the
    // poll's tile, which then takes long to find again on a timeline this long.
    await shot("guardian", "13-guardian-consent-poll", { show: "NPÖ): ja eller nej?", block: "end" });
    await shot("guardian", "13-guardian-consent-poll-phone", { phone: true, show: "NPÖ): ja eller nej?", block: "end" });
    people.guardian.since = Date.now() - 2000;
    await E.step("guardian: taps Ja in the question", async () => {
        // Element may render the poll's tile anew while it is found (a long timeline, a layout just
        // changed back from the phone's): find it again and retry a few times.
        for (let attempt = 1; ; attempt++) {
            try {
                await reveal(g, "NPÖ): ja eller nej?", "end");
                const poll = g.locator(".mx_EventTile", { hasText: "NPÖ): ja eller nej?" }).last();
                await poll.locator(".mx_PollOption", { hasText: /^\s*Ja\s*$/ }).first().click({ timeout: 10000 });
                return;
            } catch (error) {
                if (attempt >= 5) throw error;
                await g.waitForTimeout(1000);
            }
        }
    }, timings);
    await botSays("guardian", "du har svarat **ja**");
    await settle(g);
    await shot("guardian", "14-guardian-voted-phone", { phone: true, show: "du har svarat", block: "end" });
    await shot("guardian", "14-guardian-voted", { show: "du har svarat", block: "end" });
    await say("guardian", "!status");
    await botSays("guardian", "så går det");
    await settle(g);
    await shot("guardian", "15-guardian-status-phone", { phone: true, show: "så går det", block: "start" });
    await shot("guardian", "15-guardian-status", { show: "så går det", block: "start" });
    await say("guardian", "!help");
    await botSays("guardian", "Det här kan du göra här");
    await settle(g);
    await shot("guardian", "16-guardian-help-phone", { phone: true, show: "Det här kan du göra här", block: "start" });
    await shot("guardian", "16-guardian-help", { show: "Det här kan du göra här", block: "start" });
    people.guardian.since = Date.now() - 2000;
    await clock("family-update");
    await botSays("guardian", "besked om");
    await settle(g);
    await shot("guardian", "17-guardian-update-phone", { phone: true, show: "besked om", block: "end" });
    await shot("guardian", "17-guardian-update", { show: "besked om", block: "end" });

    // The case ends: the coordinator closes it (the öppenvård lane never acknowledged), and the
    // bot posts the review of the case: time per phase, the late steps and why, the slowest receipts.
    await enterCaseRoom("coordinator");
    await say("coordinator", "!case close force Barnet är hemma; öppenvården följer upp");
    await botSays("coordinator", "Genomgång av");
    await settle(c);
    await shot("coordinator", "14-coordinator-review", { show: "Genomgång av", block: "start" });
    await shot("coordinator", "14-coordinator-review-phone", { phone: true, show: "Genomgång av", block: "start" });

    // The numbers over the coordinator's cases, with their earlier (closed) ones: why children wait,
    // as Element opens the picture.
    await E.step("coordinator: earlier cases", () => ask("history"), timings);
    await E.step("coordinator: open the chat with the bot", () => E.openRoom(c, "Homeward"), timings);
    await say("coordinator", "!stats orebro");
    await botSays("coordinator", "Siffrorna för");
    await settle(c);
    await E.step("coordinator: opens the chart of why children wait", async () => {
        const picture = c.locator(".mx_RoomView_body .mx_EventTile .mx_MImageBody img").last();
        await picture.waitFor({ timeout: 60000 });
        await picture.click();
        await c.locator(".mx_ImageView").waitFor({ timeout: 30000 });
        await c.waitForTimeout(1500); // the full picture, not its thumbnail
    }, timings);
    await shot("coordinator", "15-coordinator-waits");
    await shot("coordinator", "15-coordinator-waits-phone", { phone: true });
    await c.keyboard.press("Escape");

    // Every message each person's Element could not decrypt, why (Element's failure code), and when
    // it was sent relative to their joining the case room (negative: while they were invited).
    const undecryptable = {};
    for (const role of Object.keys(people)) {
        const joined = await people[role].page.evaluate((name) => {
            const client = window.mxMatrixClientPeg.get();
            const room = client.getRooms().find((r) => r.name.startsWith(name));
            const me = room?.getLiveTimeline().getEvents().find((e) => e.getType() === "m.room.member" && e.getStateKey() === client.getUserId() && e.getContent().membership === "join");
            return me?.getTs() ?? null;
        }, ROOM);
        undecryptable[role] = (await botMessages(role)).filter((m) => m.failure).map((m) => ({
            failure: m.failure, sent_after_join_ms: joined === null ? null : m.ts - joined,
        }));
    }
    const notified = {};
    for (const role of Object.keys(people)) notified[role] = await notifications(role);
    result = { ok: true, exclude_insecure_devices: exclude ?? null, undecryptable, notifications: notified };
} catch (error) {
    result = { ok: false, error: String(error?.stack ?? error).split("\n").slice(0, 3).join(" | ") };
    for (const role of Object.keys(people)) {
        const badges = await people[role].page.evaluate(() => [...document.querySelectorAll(".mx_NotificationBadge")].map((b) => `${b.className} in ${b.closest("[class*=mx_RoomList], [class*=mx_LeftPanel]")?.className}`)).catch(() => []);
        E.log(role, "badges:", JSON.stringify(badges));
        const messages = await botMessages(role).catch(() => []);
        E.log(role, "messages:", JSON.stringify(messages.map((m) => `${m.sender.split(":")[0]} ${m.failure ?? ""} ${m.body.slice(0, 50)}`)));
        await people[role].page.screenshot({ path: `${cfg.failures}/FAILED-${role}.png` }).catch(() => {});
    }
} finally {
    Object.assign(result, { screenshots: shots, timings, dismissed: met, blocked_origins: [...blocked] });
    console.log(JSON.stringify(result));
    await browser.close();
    process.exit(result.ok ? 0 : 1);
}
