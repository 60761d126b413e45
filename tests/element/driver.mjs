// Element's side of tests/integration/test_element.py: Homeward driven from matrix-js-sdk
// (the SDK Element is built on) with its Rust crypto, in Node without a browser.
//
//   ELEMENT_PASSWORD=... node driver.mjs <homeserver-url> <user-id> <room-id> <item-to-ack> <bot-user-id> <bot-device-id>
//
// Logs in as a new device with Element's *exclude insecure devices* on (MSC4153: room keys
// only for devices their owner cross-signed, and only such devices' messages decrypted),
// joins the care room it was invited to, sends `!status` and `!ack <item>` encrypted, and
// waits for the bot's encrypted answers and its checklist edit. It reports how Element's
// crypto judges the bot's device and messages (shields) and whether Element would notify
// for the answers and the edit (the push rules evaluated on the decrypted events).
// Prints one JSON line on stdout (what it saw, decrypted) and exits 0; on a timeout or
// any failure it prints {"ok": false, "error": ...} and exits 1. The SDK's own log goes
// to stderr (debug lines only with ELEMENT_DEBUG=1), so stdout stays one JSON line.

import { createRequire } from "node:module";

const [homeserver, userId, roomId, ackItem, botUserId, botDeviceId] = process.argv.slice(2);
const password = process.env.ELEMENT_PASSWORD;
const TIMEOUT_MS = Number(process.env.ELEMENT_TIMEOUT_MS || 40_000);
const started = performance.now();
const elapsed = () => Math.round(performance.now() - started);
const timings = {};
let step = "start";

// loglevel binds console methods when the SDK's loggers are built, so this must run before the
// SDK is imported (hence the dynamic import below).
const stdoutWrite = process.stdout.write.bind(process.stdout);
const quiet = () => {};
console.log = console.info = console.error;
console.debug = console.trace = process.env.ELEMENT_DEBUG ? console.error : quiet;

function finish(result, code) {
    stdoutWrite(JSON.stringify({ ...result, timings_ms: { ...timings, total: elapsed() } }) + "\n");
    process.exit(code);
}

function fail(error, extra = {}) {
    finish({ ok: false, step, error: String(error?.stack || error), ...extra }, 1);
}

if (!homeserver || !userId || !roomId || !ackItem || !botUserId || !botDeviceId || !password) {
    fail("usage: ELEMENT_PASSWORD=... node driver.mjs <homeserver-url> <user-id> <room-id> <item-to-ack> <bot-user-id> <bot-device-id>");
}

// One watchdog for the whole run: whatever hangs, the test gets a clear answer in time.
setTimeout(() => fail(`timed out after ${TIMEOUT_MS} ms`, { seen: summary() }), TIMEOUT_MS);
process.on("unhandledRejection", (error) => fail(error));

const sdk = await import("matrix-js-sdk");
const { OnlySignedDevicesIsolationMode } = await import("matrix-js-sdk/lib/crypto-api/index.js");
const { PushProcessor } = await import("matrix-js-sdk/lib/pushprocessor.js");

// -- every event of the room, in arrival order, with what the crypto made of it --------
const seen = [];
const failedOnce = new Set(); // events that could not be decrypted at first
let changed = () => {};
let client;

function view(event, seq) {
    const content = event.getOriginalContent(); // the event's own content, not a later edit's
    return {
        seq,
        event_id: event.getId(),
        sender: event.getSender(),
        wire_type: event.getWireType(),
        type: event.getType(),
        decrypted: event.isEncrypted() && event.getClearContent() !== null && !event.isDecryptionFailure(),
        failure: event.decryptionFailureReason,
        content,
    };
}

function summary() {
    return seen.map(({ event, seq }) => {
        const v = view(event, seq);
        return { seq, sender: v.sender, wire_type: v.wire_type, type: v.type, failure: v.failure, keys: Object.keys(v.content).slice(0, 8) };
    });
}

async function record(event) {
    if (event.getRoomId() !== roomId) return;
    if (!seen.some((s) => s.event === event)) seen.push({ seq: seen.length, event });
    await client.decryptEventIfNeeded(event);
    if (event.isDecryptionFailure()) failedOnce.add(event);
    changed();
}

/** The first event (already seen or arriving) for which `predicate(view)` holds. */
function waitFor(label, predicate) {
    step = label;
    return new Promise((resolve) => {
        const check = () => {
            for (const { event, seq } of seen) {
                if (event.isBeingDecrypted()) continue;
                const v = view(event, seq);
                if (predicate(v)) {
                    changed = () => {};
                    clearInterval(poll);
                    resolve(v);
                    return;
                }
            }
        };
        // Re-check on every new or decrypted event, and now and then (late room keys).
        changed = check;
        const poll = setInterval(check, 250);
        check();
    });
}

async function until(label, condition) {
    step = label;
    while (!(await condition())) await new Promise((r) => setTimeout(r, 100));
}

const replyTo = (v, eventId) => v.content?.["m.relates_to"]?.["m.in_reply_to"]?.event_id === eventId;

async function main() {
    // -- log in as a new device with Rust crypto ------------------------------------------
    step = "login";
    const anonymous = sdk.createClient({ baseUrl: homeserver });
    const login = await anonymous.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: userId },
        password,
        initial_device_display_name: "Homeward Element compatibility test",
    });
    client = sdk.createClient({
        baseUrl: homeserver,
        userId: login.user_id,
        deviceId: login.device_id,
        accessToken: login.access_token,
    });
    step = "initRustCrypto";
    await client.initRustCrypto({ useIndexedDB: false }); // in memory: Node has no IndexedDB
    const cryptoApi = client.getCrypto();
    // Element's "exclude insecure devices": keys only to, messages only from, cross-signed devices.
    cryptoApi.setDeviceIsolationMode(new OnlySignedDevicesIsolationMode());
    // In that mode a sender needs its own cross-signing identity, which Element sets up silently
    // at a user's first login: the first upload needs no password here (MSC3967).
    step = "bootstrap cross-signing";
    await cryptoApi.bootstrapCrossSigning({ authUploadDeviceSigningKeys: (makeRequest) => makeRequest(null).then(() => {}) });
    timings.logged_in = elapsed();

    client.on(sdk.ClientEvent.Event, (event) => void record(event));
    client.on(sdk.MatrixEventEvent.Decrypted, (event) => void record(event));

    step = "first sync";
    const prepared = new Promise((resolve) => {
        client.on(sdk.ClientEvent.Sync, (state) => state === "PREPARED" && resolve());
    });
    await client.startClient({ initialSyncLimit: 20 });
    await prepared;

    // The bot shares its room key only with devices it can find when it sends: our device keys
    // must be on the server before we join (the SDK uploads them after the first sync).
    await until("device keys uploaded", async () => {
        const devices = await cryptoApi.getUserDeviceInfo([login.user_id], true);
        return devices.get(login.user_id)?.has(login.device_id) ?? false;
    });
    timings.synced = elapsed();

    // -- join the care room (we were invited), wait until its encryption state is known ----
    step = "join";
    await client.joinRoom(roomId);
    await until("joined and encrypted", async () => {
        const room = client.getRoom(roomId);
        return room?.getMyMembership() === "join" && (await cryptoApi.isEncryptionEnabledInRoom(roomId));
    });
    timings.joined = elapsed();

    // -- `!status`: an encrypted command, an encrypted answer ----------------------------
    step = "send !status";
    const statusCommand = await client.sendMessage(roomId, { msgtype: "m.text", body: "!status" });
    const status = await waitFor("answer to !status", (v) => replyTo(v, statusCommand.event_id));
    timings.status_answered = elapsed();

    // -- `!ack <item>`: the answer, and the checklist edited in place (m.replace) ---------
    step = "send !ack";
    const mark = seen.length; // the edit we want arrives after this
    const ackCommand = await client.sendMessage(roomId, { msgtype: "m.text", body: `!ack ${ackItem}` });
    const ack = await waitFor("answer to !ack", (v) => replyTo(v, ackCommand.event_id));
    const edit = await waitFor(
        "checklist edit",
        (v) =>
            v.seq >= mark &&
            v.content?.["m.relates_to"]?.rel_type === "m.replace" &&
            v.content?.["m.new_content"]?.["homeward.checklist"] !== undefined,
    );
    timings.ack_answered = elapsed();

    // How Element's crypto judges the bot: its device, and the shield on each of its messages.
    step = "trust";
    await cryptoApi.getUserDeviceInfo([botUserId], true);
    const deviceStatus = await cryptoApi.getDeviceVerificationStatus(botUserId, botDeviceId);
    const eventsById = new Map(seen.map(({ event }) => [event.getId(), event]));
    const shields = {};
    const pushes = {};
    const push = new PushProcessor(client);
    for (const [name, v] of Object.entries({ status, ack, edit })) {
        const event = eventsById.get(v.event_id);
        const info = await cryptoApi.getEncryptionInfoForEvent(event);
        shields[name] = info && { colour: info.shieldColour, reason: info.shieldReason };
        const actions = push.actionsForEvent(event);
        pushes[name] = { notify: Boolean(actions.notify), highlight: Boolean(actions.tweaks?.highlight) };
    }

    // Our command as the homeserver stores it: never in clear text.
    const storedCommand = await client.fetchRoomEvent(roomId, statusCommand.event_id);

    // The checklist message the edit replaces (Element hides edits and shows the original with
    // the edit applied). It may predate our invite: then it is not in our timeline.
    step = "original checklist";
    async function original(eventId) {
        if (client.getRoom(roomId)?.findEventById(eventId)) return { in_timeline: true };
        try {
            const raw = await client.fetchRoomEvent(roomId, eventId);
            const event = new sdk.MatrixEvent(raw);
            await client.decryptEventIfNeeded(event);
            return { in_timeline: false, fetched: true, wire_type: event.getWireType(), failure: event.decryptionFailureReason };
        } catch (error) {
            return { in_timeline: false, fetched: false, error: error.errcode || String(error) };
        }
    }
    const checklistOriginal = await original(edit.content["m.relates_to"].event_id);

    // Our own join, in timeline order: what came before it we were never meant to read.
    const joinSeq = seen.find(
        ({ event }) => event.getType() === "m.room.member" && event.getStateKey() === login.user_id && event.getContent().membership === "join",
    )?.seq;
    const undecryptable = summary()
        .filter((s) => s.failure !== null)
        .map(({ seq, sender, failure }) => ({ seq, sender, failure, after_join: joinSeq === undefined || seq > joinSeq }));
    client.stopClient();
    finish(
        {
            ok: true,
            user_id: login.user_id,
            device_id: login.device_id,
            sdk_version: createRequire(import.meta.url)("matrix-js-sdk/package.json").version,
            crypto_version: cryptoApi.getVersion(),
            own_command_wire_type: storedCommand.type,
            isolation_mode: cryptoApi.deviceIsolationMode?.kind ?? null,
            bot_device: deviceStatus && {
                signed_by_owner: deviceStatus.signedByOwner,
                cross_signing_verified: deviceStatus.crossSigningVerified,
                locally_verified: deviceStatus.localVerified,
            },
            shields,
            pushes,
            status,
            ack,
            edit,
            checklist_original: checklistOriginal,
            // Events we could not decrypt (e.g. history from before we joined), without content.
            undecryptable,
            // Events first undecryptable, readable once their room key came in after them.
            decrypted_late: [...failedOnce].filter((e) => !e.isDecryptionFailure()).map((e) => e.getId()),
            join_seq: joinSeq ?? null,
            events_seen: seen.length,
        },
        0,
    );
}

main().catch(fail);
