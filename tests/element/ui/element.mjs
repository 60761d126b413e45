// Small helper library for driving a real Element Web (v1.11.88) with playwright-core + Debian chromium.
// Copied from ../shared/element-web/driver/element.mjs; changed here: newContext's `config` option
// (keys merged into the served config.json), and readTimeline reads a reply's own body, not the
// quoted message it replies to. Used by walk.mjs.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

export function log(...a) {
    console.log(new Date().toISOString().slice(11, 23), ...a);
}

/** Launch headless chromium. Requests to anything but loopback are aborted (and counted). */
export async function launch({ headless = true } = {}) {
    return chromium.launch({
        executablePath: CHROMIUM,
        headless,
        args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
    });
}

/**
 * New browser context (= a fresh profile: own localStorage/IndexedDB, so one per user).
 * homeserver/serverName: if given, Element's config.json is rewritten on the fly so that
 * default_server_config points there (no need to edit the served config.json).
 */
export async function newContext(browser, { blocked = new Set(), homeserver, serverName, viewport, config } = {}) {
    const ctx = await browser.newContext({ viewport: viewport ?? { width: 1280, height: 800 }, locale: "en-GB" });
    await ctx.route("**/*", async (route) => {
        const u = new URL(route.request().url());
        if (!(u.protocol === "data:" || u.protocol === "blob:" || LOOPBACK.has(u.hostname))) {
            blocked.add(u.origin);
            return route.abort();
        }
        if ((homeserver || config) && /^\/config(\.[^/]*)?\.json$/.test(u.pathname)) {
            const resp = await route.fetch();
            let cfg = {};
            if (resp.ok()) cfg = await resp.json();
            if (homeserver) {
                cfg.default_server_config = {
                    "m.homeserver": { base_url: homeserver, ...(serverName ? { server_name: serverName } : {}) },
                };
            }
            // `config`: keys merged into config.json (one level deep), e.g. setting_defaults.
            for (const [key, value] of Object.entries(config ?? {})) {
                cfg[key] = value && typeof value === "object" && !Array.isArray(value) ? { ...(cfg[key] ?? {}), ...value } : value;
            }
            return route.fulfill({ response: resp, status: 200, json: cfg });
        }
        return route.continue();
    });
    return ctx;
}

/** Returns a function shot(name) that saves a numbered full-window PNG into dir. */
export function shooter(page, dir, prefix = "") {
    fs.mkdirSync(dir, { recursive: true });
    let n = 0;
    return async (name) => {
        const file = path.join(dir, `${prefix}${String(++n).padStart(2, "0")}-${name}.png`);
        await page.screenshot({ path: file });
        log("screenshot", file);
        return file;
    };
}

/** Time a step and log it. */
export async function step(name, fn, timings) {
    const t0 = Date.now();
    try {
        return await fn();
    } finally {
        const ms = Date.now() - t0;
        if (timings) timings.push({ step: name, ms });
        log(`step "${name}" took ${ms} ms`);
    }
}

/**
 * Log in with username/password on the login page. `elementUrl` is where the webapp is served;
 * the homeserver comes from that webapp's config.json (default_server_config), unless `homeserver`
 * is given and custom URLs are allowed in config.json.
 */
export async function login(page, { elementUrl, user, password, homeserver }) {
    await page.goto(`${elementUrl.replace(/\/$/, "")}/#/login`);
    if (homeserver) {
        const edit = page.getByRole("button", { name: "Edit" });
        if (await edit.isVisible({ timeout: 3000 }).catch(() => false)) {
            await edit.click();
            await page.getByRole("textbox", { name: "Other homeserver" }).fill(homeserver);
            await page.getByRole("button", { name: "Continue", exact: true }).click();
            await page.locator(".mx_ServerPickerDialog").waitFor({ state: "detached" });
        }
    }
    await page.getByRole("textbox", { name: "Username" }).fill(user);
    await page.getByPlaceholder("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    // Logged in once the space panel / room list is there.
    await page.locator(".mx_LeftPanel").waitFor({ timeout: 60000 });
}

/**
 * Dismiss every first-run dialog, toast and popover we know of. Loops for `seconds`,
 * returns the list of what it dismissed (in order).
 */
export async function dismissFirstRun(page, { seconds = 8, log: doLog = true } = {}) {
    const met = [];
    const known = [
        // [description, locator factory]
        ["toast 'Notifications: Enable desktop notifications' -> Dismiss",
            () => page.locator(".mx_Toast_toast", { hasText: "Enable desktop notifications" }).getByRole("button", { name: "Dismiss" })],
        ["toast 'Set up recovery' / 'Set up Secure Backup' -> Dismiss",
            () => page.locator(".mx_Toast_toast", { hasText: /Set up recovery|Set up Secure Backup|Back up your keys/ }).getByRole("button", { name: /Dismiss|Later|Not now/ })],
        ["toast 'Verify this session' -> Later",
            () => page.locator(".mx_Toast_toast", { hasText: /Verify this (session|device)/ }).getByRole("button", { name: /Later|Dismiss|Not now/ })],
        ["toast 'Help improve Element' (analytics) -> Not now",
            () => page.locator(".mx_Toast_toast", { hasText: /Help improve|analytics/i }).getByRole("button", { name: /Not now|No|Dismiss/ })],
        ["popover 'All new pinned messages' release announcement (first time the room info panel opens) -> Ok",
            () => page.getByRole("dialog", { name: "All new pinned messages" }).getByRole("button", { name: /^ok$/i })],
        ["popover 'Threads Activity Centre' release announcement -> OK",
            () => page.getByRole("dialog", { name: "Threads Activity Centre" }).getByRole("button", { name: "OK" })],
        ["any other release-announcement popover -> OK",
            () => page.locator("[role=dialog]:not(.mx_Dialog)").getByRole("button", { name: /^ok$/i })],
    ];
    const deadline = Date.now() + seconds * 1000;
    do {
        let clicked = false;
        for (const [desc, loc] of known) {
            const l = loc().first();
            if (await l.isVisible().catch(() => false)) {
                await l.click().catch(() => {});
                met.push(desc);
                if (doLog) log("dismissed:", desc);
                clicked = true;
                await page.waitForTimeout(300);
            }
        }
        if (!clicked && seconds > 0) await page.waitForTimeout(500);
    } while (Date.now() < deadline);
    const leftovers = [
        ...(await page.locator(".mx_Dialog").allInnerTexts()),
        ...(await page.locator(".mx_Toast_toast").allInnerTexts()),
    ];
    if (leftovers.length && doLog && seconds > 0) log("still on screen (not dismissed):", JSON.stringify(leftovers));
    return met;
}

/** One quick pass over the known toasts/popovers (call between steps: some appear late). */
export async function dismissOnce(page, met) {
    const got = await dismissFirstRun(page, { seconds: 0 });
    if (met) met.push(...got);
    return got;
}

/** Create a room through the "Add room" -> "New room" dialog. Encrypted is Element's default. */
export async function createRoom(page, name, { encrypted = true, topic } = {}) {
    await page.getByRole("button", { name: "Add room" }).click();
    await page.locator(".mx_IconizedContextMenu").getByRole("menuitem", { name: "New room" }).click();
    const dialog = page.locator(".mx_CreateRoomDialog");
    await dialog.getByLabel("Name").fill(name);
    if (topic) await dialog.getByLabel("Topic (optional)").fill(topic);
    const e2e = dialog.getByLabel("Enable end-to-end encryption");
    if ((await e2e.isChecked()) !== encrypted) await e2e.click();
    await dialog.getByRole("button", { name: "Create room" }).click();
    await dialog.waitFor({ state: "detached" });
    if (encrypted) await page.getByText("Encryption enabled").first().waitFor({ timeout: 30000 });
    await page.locator(".mx_RoomView .mx_BasicMessageComposer_input").waitFor();
}

/**
 * Open a room: "!roomid:server" or "#alias:server" navigate directly; anything else is a room name
 * looked up in the room list (joined rooms and invites). Returns "joined" or "invite".
 */
export async function openRoom(page, room, { timeout = 60000 } = {}) {
    if (room.startsWith("!") || room.startsWith("#")) {
        const base = page.url().split("#")[0];
        await page.goto(`${base}#/room/${encodeURIComponent(room)}`);
    } else {
        await page.locator(".mx_RoomList").getByRole("treeitem", { name: new RegExp(escapeRe(room)) }).first().click({ timeout });
    }
    const composer = page.locator(".mx_RoomView .mx_BasicMessageComposer_input");
    const accept = page.locator(".mx_RoomView").getByRole("button", { name: "Accept" });
    return Promise.race([
        composer.waitFor({ timeout }).then(() => "joined"),
        accept.waitFor({ timeout }).then(() => "invite"),
    ]);
}

/** Last `n` timeline messages of the open room as [{sender, body, undecryptable}] (oldest first). */
export async function readTimeline(page, n = 10) {
    return page.evaluate((n) => {
        const out = [];
        let sender = null;
        // A reply quotes its parent inside the tile (.mx_ReplyChain): that is not this message.
        const own = (tile, selector) => [...tile.querySelectorAll(selector)].find((e) => !e.closest(".mx_ReplyChain"));
        for (const tile of document.querySelectorAll(".mx_RoomView_body .mx_EventTile")) {
            if (tile.closest(".mx_ReplyChain")) continue;
            const name = own(tile, ".mx_DisambiguatedProfile_displayName");
            if (name) sender = name.textContent.trim();
            const utd = own(tile, ".mx_DecryptionFailureBody");
            const body = own(tile, ".mx_EventTile_body");
            if (!body && !utd) continue;
            out.push({ sender, body: (body ?? utd).innerText.trim(), undecryptable: !!utd });
        }
        return out.slice(-n);
    }, n);
}

/** Invite a user (full MXID) to the currently open room through the room-info panel's Invite dialog. */
export async function inviteToCurrentRoom(page, mxid) {
    const info = page.locator(".mx_RightPanel");
    if (!(await info.isVisible().catch(() => false))) {
        await page.getByRole("button", { name: "Room info" }).first().click();
    }
    await page.locator(".mx_BaseCard").getByRole("menuitem", { name: "Invite" }).click();
    const dlg = page.locator(".mx_InviteDialog_other");
    // (production builds strip data-testid attributes, so use classes/roles)
    await dlg.locator(".mx_InviteDialog_editor input").fill(mxid);
    const tile = dlg.locator(".mx_InviteDialog_tile_nameStack_userId", { hasText: mxid }).first();
    await tile.waitFor({ timeout: 20000 });
    await tile.click();
    await dlg.locator(".mx_InviteDialog_userTile_pill").first().waitFor();
    await dlg.getByRole("button", { name: "Invite" }).click();
    await dlg.waitFor({ state: "detached" });
    // the room-info panel brings an "All new pinned messages" popover; dismiss it and close the panel
    await dismissFirstRun(page, { seconds: 0 });
    await page.locator(".mx_RightPanel").getByRole("button", { name: "Close" }).first().click().catch(() => {});
}

/** Type a message into the current room's composer and press Enter; waits until it is sent. */
export async function sendMessage(page, text) {
    const composer = page.locator(".mx_RoomView_body .mx_BasicMessageComposer_input").first();
    await composer.click();
    await composer.fill(text);
    await composer.press("Enter");
    const tile = page.locator(".mx_EventTile_last", { hasText: text });
    await tile.waitFor({ timeout: 30000 });
    // "sending" state goes away once the server has accepted it.
    await page.locator(".mx_EventTile_last.mx_EventTile_sending").waitFor({ state: "detached", timeout: 30000 }).catch(() => {});
}

/** Wait for a message containing `text` (string or RegExp) in the open room's timeline. */
export async function waitForMessage(page, text, { timeout = 60000 } = {}) {
    const body = page.locator(".mx_RoomView_body .mx_EventTile .mx_EventTile_body", { hasText: text }).last();
    await body.waitFor({ timeout });
    return body;
}

/** Accept a pending invite to `roomName` from the room list (no-op if already joined). Returns the prior state. */
export async function acceptInvite(page, roomName, { timeout = 60000 } = {}) {
    const state = await openRoom(page, roomName, { timeout });
    if (state === "invite") {
        await page.locator(".mx_RoomView").getByRole("button", { name: "Accept" }).click();
        await page.locator(".mx_RoomView .mx_BasicMessageComposer_input").waitFor({ timeout });
    }
    return state;
}

export function escapeRe(s) {
    return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * After "Sign in", Element may show a full-page "Verify this device" screen (the account already has
 * cross-signing keys from an earlier login). Skip it: header "Skip verification for now" (X) ->
 * "Are you sure?" -> "I'll verify later". Returns true if the screen was met.
 */
export async function skipDeviceVerification(page, { timeout = 15000, shot } = {}) {
    const skip = page.locator(".mx_CompleteSecurity_skip");
    const left = page.locator(".mx_LeftPanel");
    const which = await Promise.race([
        skip.waitFor({ timeout }).then(() => "verify"),
        left.waitFor({ timeout }).then(() => "app"),
    ]).catch(() => "none");
    if (which !== "verify") return false;
    if (shot) await shot("verify-this-device-page");
    await skip.click();
    const later = page.getByRole("button", { name: "I'll verify later" });
    await later.waitFor();
    if (shot) await shot("verify-are-you-sure");
    await later.click();
    await left.waitFor({ timeout: 60000 });
    return true;
}

/** Log in and get to a usable client: login + skip verification + dismiss first-run toasts/popovers. */
export async function loginAndSettle(page, opts, met = []) {
    await page.goto(`${opts.elementUrl.replace(/\/$/, "")}/#/login`);
    await page.getByRole("textbox", { name: "Username" }).fill(opts.user);
    await page.getByPlaceholder("Password").fill(opts.password);
    if (opts.shot) await opts.shot("login-form");
    await page.getByRole("button", { name: "Sign in" }).click();
    if (await skipDeviceVerification(page, { timeout: 60000, shot: opts.shot })) {
        met.push("full page 'Verify this device' -> Skip (X) -> \"I'll verify later\"");
        log("skipped 'Verify this device'");
    }
    await page.locator(".mx_LeftPanel").waitFor({ timeout: 60000 });
    if (opts.shot) await opts.shot("logged-in-first-run");
    met.push(...(await dismissFirstRun(page, { seconds: opts.settleSeconds ?? 6 })));
}

/** A recovery key ("Security Key") as Element shows it: 12 groups of 4 base58 characters. */
export const RECOVERY_KEY_RE = /\b[1-9A-HJ-NP-Za-km-z]{4}(?: [1-9A-HJ-NP-Za-km-z]{4}){11}\b/;

/**
 * Set up recovery as a user does (Element 1.11.88 calls it Secure Backup): user menu → Security &
 * Privacy → "Set up" → "Generate a Security Key" → Continue → the key read from "Save your Security
 * Key" → Copy → Continue → "Secure Backup successful" → Done. The account's cross-signing keys go
 * into its secret storage, encrypted with that key (from ../shared/element-web/driver). Returns the key.
 */
export async function setUpRecovery(page, { password, timeout = 60000 } = {}) {
    await dismissOnce(page);
    await page.getByRole("button", { name: "User menu" }).click();
    const item = page.getByRole("menuitem", { name: "Security & Privacy", exact: true });
    if (await item.isVisible({ timeout: 2000 }).catch(() => false)) {
        await item.click();
    } else {
        await page.getByRole("menuitem", { name: "All settings" }).click();
        await page.getByRole("dialog", { name: /^Settings/ }).getByRole("tab", { name: "Security & Privacy", exact: true }).click();
    }
    const settings = page.getByRole("dialog", { name: /^Settings: Security & Privacy/ });
    await settings.waitFor();
    await settings.getByRole("button", { name: /^Set up( Secure Backup| recovery)?$/ }).first().click();
    const choose = page.getByRole("dialog", { name: /Set up Secure Backup|Set up recovery/ });
    await choose.waitFor({ timeout });
    const gen = choose.getByRole("radio", { name: /Generate a (Security|Recovery) Key/ });
    if (await gen.count()) await gen.check();
    await choose.getByRole("button", { name: "Continue" }).click();
    const save = page.getByRole("dialog", { name: /Save your (Security|Recovery) Key/ });
    const pw = page.getByRole("dialog").getByLabel("Password", { exact: true });
    const which = await Promise.race([
        save.waitFor({ timeout }).then(() => "save"),
        pw.waitFor({ timeout }).then(() => "password"),
    ]);
    if (which === "password") {
        await pw.fill(password);
        await page.getByRole("dialog").getByRole("button", { name: /^Continue$/ }).click();
        await save.waitFor({ timeout });
    }
    const key = (await save.innerText()).match(RECOVERY_KEY_RE)?.[0];
    if (!key) throw new Error("no recovery key in the 'Save your Security Key' dialog");
    await save.getByRole("button", { name: "Copy" }).click(); // Continue is disabled until Copy or Download
    const cont = save.getByRole("button", { name: "Continue" });
    if (!(await cont.isEnabled().catch(() => false))) await save.getByRole("button", { name: "Download" }).click();
    await cont.click();
    const done = page.getByRole("dialog", { name: /Secure Backup successful|Recovery set up|Backup successful/ });
    await done.waitFor({ timeout });
    await done.getByRole("button", { name: /^(Done|OK|Continue)$/ }).click();
    await done.waitFor({ state: "detached" });
    const open = page.getByRole("dialog", { name: /^Settings/ });
    if (await open.isVisible().catch(() => false)) {
        await open.getByRole("button", { name: "Close dialog" }).click();
        await open.waitFor({ state: "detached" });
    }
    return key;
}
