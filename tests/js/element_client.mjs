// Element's crypto stack (matrix-js-sdk + matrix-sdk-crypto-wasm) as a test client.
//
// Why: since April 2026 Element by default runs in "exclude insecure devices" mode
// (OnlySignedDevicesIsolationMode). Only a real Element crypto stack shows whether the
// bot's device is acceptable to it, so the tests drive this script instead of a nio peer.
//
// Input: one JSON object as argv[2] or on stdin:
//   {homeserver, user_id, password, bot_user_id, message, timeout (s, default 60),
//    expect_reply (optional exact body), isolation: "signed" | "all" (default "signed"),
//    logout (default true: delete the device at the end)}
// Output: exactly one JSON line on stdout; exit 0 iff a reply was received and decrypted.
// Everything else (SDK logs) goes to stderr.

// js-sdk 43 targets Node 22; Node 20 lacks only Promise.withResolvers.
if (typeof Promise.withResolvers !== "function") {
    Promise.withResolvers = function withResolvers() {
        let resolve, reject;
        const promise = new Promise((res, rej) => {
            resolve = res;
            reject = rej;
        });
        return { promise, resolve, reject };
    };
}
// Keep stdout for the single result line.
for (const level of ["log", "info", "debug", "warn", "trace"]) console[level] = console.error;

const sdk = await import("matrix-js-sdk");
const cryptoApi = await import("matrix-js-sdk/lib/crypto-api/index.js");

const started = Date.now();
const ms = () => Date.now() - started;

async function readArgs() {
    if (process.argv[2]) return JSON.parse(process.argv[2]);
    let text = "";
    for await (const chunk of process.stdin) text += chunk;
    return JSON.parse(text);
}

const result = {
    ok: false,
    reply: null,
    decrypt_error: null,
    bot_messages: [],
    bot_device_signed_by_owner: null,
    bot_devices_signed_by_owner: {},
    bot_device_id: null,
    room_id: null,
    error: null,
    timings_ms: {},
};

let activeClient = null;
let finished = false;

async function finish(code) {
    if (finished) return;
    finished = true;
    result.timings_ms.total = ms();
    process.stdout.write(JSON.stringify(result) + "\n");
    // Delete the test device unless told to keep it, so a test user does not pile up
    // dead devices that every later sender must encrypt for.
    if (activeClient && args.logout !== false) {
        activeClient.stopClient();
        await Promise.race([
            activeClient.logout(true).catch(() => {}),
            new Promise((r) => setTimeout(r, 3000)),
        ]);
    }
    // The SDK keeps timers alive; leave deliberately once the line is out.
    setTimeout(() => process.exit(code), 50);
}

function waitFor(predicate, what, timeoutMs, intervalMs = 100) {
    return new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const tick = async () => {
            let value;
            try {
                value = await predicate();
            } catch (err) {
                reject(err);
                return;
            }
            if (value) resolve(value);
            else if (Date.now() > deadline) reject(new Error(`timeout waiting for ${what}`));
            else setTimeout(tick, intervalMs);
        };
        tick();
    });
}

const args = await readArgs();
const timeoutMs = (args.timeout ?? 60) * 1000;
const hardTimer = setTimeout(() => {
    result.error = result.error ?? "overall timeout";
    void finish(1);
}, timeoutMs + 5000);
hardTimer.unref?.();

async function run() {
    const loginClient = sdk.createClient({ baseUrl: args.homeserver });
    const login = await loginClient.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: args.user_id },
        password: args.password,
        initial_device_display_name: "element-crypto test client",
    });
    const client = sdk.createClient({
        baseUrl: args.homeserver,
        userId: login.user_id,
        deviceId: login.device_id,
        accessToken: login.access_token,
    });
    activeClient = client;
    result.timings_ms.login = ms();

    await client.initRustCrypto({ useIndexedDB: false });
    const crypto = client.getCrypto();
    const isolation =
        args.isolation === "all"
            ? new cryptoApi.AllDevicesIsolationMode(false)
            : new cryptoApi.OnlySignedDevicesIsolationMode();
    crypto.setDeviceIsolationMode(isolation);

    const t0 = Date.now();
    await crypto.bootstrapCrossSigning({
        setupNewCrossSigning: true,
        authUploadDeviceSigningKeys: async (makeRequest) => {
            try {
                await makeRequest(null);
            } catch (err) {
                const session = err?.data?.session;
                if (err?.httpStatus !== 401 || !session) throw err;
                await makeRequest({
                    type: "m.login.password",
                    identifier: { type: "m.id.user", user: args.user_id },
                    password: args.password,
                    session,
                });
            }
        },
    });
    result.timings_ms.bootstrap_cross_signing = Date.now() - t0;

    // Listen before sync starts so nothing is missed.
    let roomId = null;
    const botEvents = [];
    const waiters = [];
    const consider = async (event) => {
        if (!roomId || event.getRoomId() !== roomId) return;
        if (event.getSender() !== args.bot_user_id) return;
        if (!event.isEncrypted() && event.getType() !== "m.room.message") return;
        await client.decryptEventIfNeeded(event);
        if (event.getType() !== "m.room.message" && !event.isDecryptionFailure()) return;
        if (!botEvents.includes(event)) botEvents.push(event);
        for (const w of waiters) w();
    };
    client.on(sdk.RoomEvent.Timeline, (event) => void consider(event));
    client.on(sdk.MatrixEventEvent.Decrypted, (event) => void consider(event));

    await client.startClient({ initialSyncLimit: 20 });
    await waitFor(() => client.isInitialSyncComplete(), "initial sync", timeoutMs);
    crypto.setDeviceIsolationMode(isolation);
    result.timings_ms.synced = ms();

    await waitFor(() => crypto.isCrossSigningReady(), "cross-signing ready", timeoutMs, 200);
    result.timings_ms.cross_signing_ready = ms();

    const created = await client.createRoom({
        is_direct: true,
        preset: "trusted_private_chat",
        invite: [args.bot_user_id],
        initial_state: [
            {
                type: "m.room.encryption",
                state_key: "",
                content: { algorithm: "m.megolm.v1.aes-sha2" },
            },
        ],
    });
    roomId = created.room_id;
    result.room_id = roomId;
    await waitFor(
        () => client.getRoom(roomId)?.getMember(args.bot_user_id)?.membership === "join",
        "bot to join",
        timeoutMs,
    );
    result.timings_ms.bot_joined = ms();

    // What Element's crypto thinks of the bot's device(s).
    const devices = await crypto.getUserDeviceInfo([args.bot_user_id], true);
    const botDevices = [...(devices.get(args.bot_user_id)?.keys() ?? [])];
    for (const d of botDevices) {
        const s = await crypto.getDeviceVerificationStatus(args.bot_user_id, d);
        result.bot_devices_signed_by_owner[d] = s ? s.signedByOwner : null;
    }
    const signedValues = Object.values(result.bot_devices_signed_by_owner);
    result.bot_device_signed_by_owner = signedValues.length ? signedValues.every(Boolean) : null;
    result.bot_device_id = botDevices.length === 1 ? botDevices[0] : botDevices;

    const sendStart = Date.now();
    const sent = await client.sendMessage(roomId, { msgtype: "m.text", body: args.message });
    result.timings_ms.send = Date.now() - sendStart;

    // A reply is a bot message after ours; a greeting sent on join may come before it.
    const isAfterOurs = (ev) => {
        const tl = client.getRoom(roomId)?.getLiveTimeline().getEvents() ?? [];
        const ours = tl.findIndex((e) => e.getId() === sent.event_id);
        return ours >= 0 && tl.indexOf(ev) > ours;
    };
    // With expect_reply only a decrypted message with that body counts; otherwise the
    // first decrypted one does. Undecryptable ones are kept for the report.
    const matches = (ev) =>
        !ev.isDecryptionFailure() &&
        (args.expect_reply == null || ev.getContent().body === args.expect_reply);
    const replyEvent = await new Promise((resolve) => {
        const check = () => {
            const hit = botEvents.filter(isAfterOurs).find(matches);
            if (hit) resolve(hit);
        };
        waiters.push(check);
        check();
        setTimeout(() => resolve(null), Math.max(1000, timeoutMs - ms()));
    });
    result.timings_ms.reply = Date.now() - sendStart;

    result.bot_messages = botEvents.map((e) =>
        e.isDecryptionFailure()
            ? { decrypted: false, error: e.decryptionFailureReason }
            : { decrypted: true, body: e.getContent().body ?? null },
    );
    const failed = botEvents.find((e) => e.isDecryptionFailure());
    result.decrypt_error = failed ? failed.decryptionFailureReason : null;
    if (!replyEvent) {
        result.error = failed ? "bot messages could not be decrypted" : "no reply from the bot";
        return 1;
    }
    result.reply = replyEvent.getContent().body ?? null;
    result.ok = true;
    return 0;
}

try {
    await finish(await run());
} catch (err) {
    result.error = `${err?.name ?? "Error"}: ${err?.message ?? err}`;
    await finish(1);
}
