// A walk beside `make screenshots`: a nurse's logins as Element Web shows them, with "exclude insecure
// devices" on, against a bot that trusts only devices their owner verified (README, "Whose devices the
// bot trusts"). Driven by trust_walk.py, which runs Synapse, the bot and the coordinator (a matrix-nio
// client) and answers `@@anna <command>` lines on stdin.
//
// Uses the Element driver library of ../shared/element-web/driver (EW_DRIVER: the path of its
// element.mjs, with its node_modules installed), which has the second-login functions
// (signIn, setUpRecovery, verifyWithRecoveryKey, messageShield, cryptoStatus).
import readline from "node:readline";
import path from "node:path";

const E = await import(process.env.EW_DRIVER);
const cfg = JSON.parse(process.env.TRUST_WALK);
const stdin = readline.createInterface({ input: process.stdin });
const lines = stdin[Symbol.asyncIterator]();
async function anna(command) {
    console.log(`@@anna ${command}`);
    const { value } = await lines.next();
    if (value?.trim() !== "ok") throw new Error(`${command}: ${value}`);
}

const LAPTOP = { width: 1280, height: 800 };
const browser = await E.launch();
const result = { ok: false, sessions: {} };
const timings = [];

async function session(name, { exclude = true, viewport = LAPTOP } = {}) {
    const ctx = await E.newContext(browser, {
        homeserver: cfg.homeserver, serverName: cfg.serverName, viewport, excludeInsecureDevices: exclude,
    });
    const page = await ctx.newPage();
    const shot = E.shooter(page, cfg.out, `${name}-`);
    return { page, shot };
}

// The last `n` messages of the open room, each with its own sender and body (the driver's readTimeline
// takes a reply's quoted message for the reply itself, and the bot answers every command as a reply).
async function timeline(page, n = 15) {
    return page.evaluate((n) => {
        const QUOTE = ".mx_ReplyChain, .mx_ReplyTile";
        const out = [];
        let sender = null;
        for (const tile of document.querySelectorAll(".mx_RoomView_body .mx_EventTile")) {
            if (tile.closest(QUOTE)) continue;
            const own = (sel) => [...tile.querySelectorAll(sel)].find((el) => !el.closest(QUOTE));
            const name = own(".mx_DisambiguatedProfile_displayName");
            if (name) sender = name.textContent.trim();
            const utd = own(".mx_DecryptionFailureBody");
            const body = own(".mx_EventTile_body");
            if (!body && !utd) continue;
            const icon = own(".mx_EventTile_e2eIcon");
            const shield = icon ? (icon.className.match(/mx_EventTile_e2eIcon_(\w+)/)?.[1] ?? "icon") : null;
            out.push({ sender, text: (utd ?? body).innerText.trim().slice(0, 140), undecryptable: !!utd, shield });
        }
        return out.slice(-n);
    }, n);
}

async function botLines(page, n = 12) {
    return (await timeline(page, n)).filter((m) => m.sender === "Homeward");
}

// The same screen on a phone (390×844), then back to the laptop's size. As in walk.mjs: Element Web
// keeps its space bar and room list on a narrow window, Element's phone apps show the timeline alone.
const PHONE_CSS = ".mx_LeftPanel_outerWrapper, .mx_LeftPanel_wrapper, .mx_SpacePanel, .mx_LeftPanel, .mx_ResizeHandle { display: none !important; }";
async function phoneShot(page, shot, name) {
    const size = page.viewportSize();
    await page.setViewportSize({ width: 390, height: 844 });
    const style = await page.addStyleTag({ content: PHONE_CSS });
    await page.waitForTimeout(1000);
    await page.mouse.move(388, 842);
    await shot(`${name}-phone`);
    await style.evaluate((node) => node.remove());
    await page.setViewportSize(size);
    await page.waitForTimeout(500);
}

try {
    const sara = { elementUrl: cfg.elementUrl, user: cfg.sara.user, password: cfg.sara.password };

    // A: Sara's first login (her identity is set up silently), her recovery key, the room.
    const a = await session("a-first");
    await E.step("A: first login", () => E.loginAndSettle(a.page, sara), timings);
    await E.step("A: join", () => E.acceptInvite(a.page, cfg.label), timings);
    await E.waitForMessage(a.page, /Sara|kommun/i, { timeout: 60000 });
    const key = await E.step("A: set up recovery", () => E.setUpRecovery(a.page, { password: cfg.sara.password }), timings);
    await E.openRoom(a.page, cfg.label);
    await a.shot("room");

    // B: a second login, verified with the recovery key.
    const b = await session("b-verified");
    const whereB = await E.step("B: sign in", () => E.signIn(b.page, sara), timings);
    if (whereB !== "verify") throw new Error(`B: expected "Verify this device", got ${whereB}`);
    await b.shot("verify-this-device");
    await E.step("B: verify with the recovery key", () => E.verifyWithRecoveryKey(b.page, key), timings);
    await E.dismissFirstRun(b.page, { seconds: 6 });
    await E.openRoom(b.page, cfg.label);
    const sentB = await E.sendMessage(b.page, "!status");
    await E.waitForMessage(b.page, /Fas|fas/, { timeout: 60000 });
    await anna("!ping");  // the bot's next message, from someone else's command
    await E.waitForMessage(b.page, /pong/, { timeout: 60000 });
    await b.page.waitForTimeout(2000);
    const linesB = await botLines(b.page, 15);
    const shieldB = await E.messageShield(b.page, "pong");
    const statusShieldB = await E.messageShield(b.page, "!ack");
    await b.shot("room");
    await phoneShot(b.page, b.shot, "room");
    result.sessions.verified = {
        sent: sentB, crypto: await E.cryptoStatus(b.page), shield_on_pong: shieldB, shield_on_status: statusShieldB,
        bot: linesB,
    };

    // C: a login nobody verified, in an Element without "exclude insecure devices" (as a device the
    // homeserver's administrator makes would be): it can send; the bot answers how to verify it.
    const c = await session("c-unverified", { exclude: false });
    await E.step("C: sign in, skip verification", () => E.loginAndSettle(c.page, sara), timings);
    await E.openRoom(c.page, cfg.label);
    await anna("!ping");
    await c.page.waitForTimeout(4000);
    const sentC = await E.sendMessage(c.page, "!status");
    await E.waitForMessage(c.page, /verifierad|verify/i, { timeout: 60000 }).catch(() => null);
    await c.page.waitForTimeout(3000);
    const linesC = await botLines(c.page, 15);
    await c.shot("room");
    await phoneShot(c.page, c.shot, "room");
    result.sessions.unverified_exclude_off = {
        sent: sentC, crypto: await E.cryptoStatus(c.page),
        bot: linesC,
    };

    // D: a login nobody verified, with "exclude insecure devices" on (the hospital's Element).
    const d = await session("d-unverified", { exclude: true });
    await E.step("D: sign in, skip verification", () => E.loginAndSettle(d.page, sara), timings);
    await E.openRoom(d.page, cfg.label);
    await anna("!ping");
    await d.page.waitForTimeout(4000);
    const sentD = await E.sendMessage(d.page, "!status");
    await d.page.waitForTimeout(8000);
    const linesD = await botLines(d.page, 15);
    await d.shot("room");
    await phoneShot(d.page, d.shot, "room");
    result.sessions.unverified_exclude_on = {
        sent: sentD, crypto: await E.cryptoStatus(d.page),
        bot: linesD,
    };
    // The verified session B after all this: the answers to C and D are not for it to miss.
    result.sessions.verified_after = await timeline(b.page, 8);
    await b.shot("room-after");
    result.ok = true;
} catch (error) {
    result.error = `${error?.stack ?? error}`.slice(0, 2000);
} finally {
    result.timings = timings;
    result.out = path.resolve(cfg.out);
    console.log(JSON.stringify(result));
    // Closing Chromium has hung once after a whole walk; the summary is out, so do not wait for it long.
    await Promise.race([browser.close(), new Promise((done) => setTimeout(done, 15000))]);
    process.exit(0);
}
