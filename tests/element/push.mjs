// Element's own notification decision, for tests/integration/test_notifications.py.
//
//   node push.mjs < input.json
//
// Input (JSON on stdin): {room_id, state: [state events of the room], users: {user_id: push
// rules as GET /pushrules/ returned them}, events: {name: a decrypted event (type, content,
// sender, event_id, origin_server_ts)}}.
// Output (one JSON line): {name: {user_id: {notify, highlight, sound, rule}}}.
//
// Element evaluates the push rules on the decrypted event in the client (the server sees only
// m.room.encrypted): matrix-js-sdk's PushProcessor, over the rules it fetched (rewritten by
// `rewriteDefaultRules`, as MatrixClient.getPushRules does) and the room's current state
// (member count, power levels, display names), for a server that supports intentional
// mentions (Matrix 1.7), as Synapse does.

import { readFileSync } from "node:fs";

console.log = console.info = console.warn = console.debug = console.error; // stdout is for the answer only

const sdk = await import("matrix-js-sdk");
const { PushProcessor } = await import("matrix-js-sdk/lib/pushprocessor.js");
const { Feature, ServerSupport } = await import("matrix-js-sdk/lib/feature.js");

const input = JSON.parse(readFileSync(0, "utf8"));
const result = {};

for (const [userId, rules] of Object.entries(input.users)) {
    const client = sdk.createClient({ baseUrl: "http://127.0.0.1:9", userId });
    client.canSupport.set(Feature.IntentionalMentions, ServerSupport.Stable);
    client.pushRules = PushProcessor.rewriteDefaultRules(rules, userId);
    const room = new sdk.Room(input.room_id, client, userId);
    room.currentState.setStateEvents(input.state.map((e) => new sdk.MatrixEvent({ ...e, room_id: input.room_id })));
    client.store.storeRoom(room);
    const processor = new PushProcessor(client);
    for (const [name, event] of Object.entries(input.events)) {
        const { actions, rule } = processor.actionsAndRuleForEvent(new sdk.MatrixEvent({ ...event, room_id: input.room_id }));
        result[name] ??= {};
        result[name][userId] = {
            notify: Boolean(actions?.notify),
            highlight: Boolean(actions?.tweaks?.highlight),
            sound: actions?.tweaks?.sound ?? null,
            rule: rule?.rule_id ?? null,
        };
    }
}

process.stdout.write(JSON.stringify(result) + "\n");
process.exit(0);
