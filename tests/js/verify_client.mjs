// Element's crypto stack (matrix-js-sdk + crypto-wasm) as the person in an interactive
// verification (SAS emoji) with the bot: what Element does after "Verify" on the bot's
// profile (a request in the DM), after `!verify` (an incoming request it accepts), or by
// to-device message.
//
// Input: one JSON object on stdin: {homeserver, user_id, password, bot_user_id,
//   mode: "request_dm" | "request_to_device" | "accept", timeout (s, default 120),
//   answer: "confirm" | "mismatch" | "cancel" (what the person does on seeing the emoji)}
// Output: JSON lines on stdout, each with "event": "ready" (logged in, DM made, the bot
// answered a first message: {room_id}), "sas" ({emoji: names, decimals}), then "result"
// ({phase, cancel_code, bot_verified, error}). Exit 0 iff the result line was written.

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
for (const level of ["log", "info", "debug", "warn", "trace"]) console[level] = console.error;

const sdk = await import("matrix-js-sdk");
const cryptoApi = await import("matrix-js-sdk/lib/crypto-api/index.js");

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
let text = "";
for await (const chunk of process.stdin) text += chunk;
const args = JSON.parse(text);
const timeoutMs = (args.timeout ?? 120) * 1000;
setTimeout(() => {
    emit({ event: "result", phase: null, error: "overall timeout" });
    process.exit(1);
}, timeoutMs).unref?.();

function waitFor(predicate, what, ms = timeoutMs, every = 100) {
    return new Promise((resolve, reject) => {
        const deadline = Date.now() + ms;
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
            else setTimeout(tick, every);
        };
        tick();
    });
}

const phaseName = (p) =>
    Object.entries(cryptoApi.VerificationPhase).find(([, v]) => v === p)?.[0] ?? String(p);

async function login() {
    const loginClient = sdk.createClient({ baseUrl: args.homeserver });
    const session = await loginClient.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: args.user_id },
        password: args.password,
        initial_device_display_name: "element-crypto verification client",
    });
    const client = sdk.createClient({
        baseUrl: args.homeserver,
        userId: session.user_id,
        deviceId: session.device_id,
        accessToken: session.access_token,
    });
    await client.initRustCrypto({ useIndexedDB: false });
    const crypto = client.getCrypto();
    await crypto.bootstrapCrossSigning({
        setupNewCrossSigning: true,
        authUploadDeviceSigningKeys: async (makeRequest) => {
            try {
                await makeRequest(null);
            } catch (err) {
                const id = err?.data?.session;
                if (err?.httpStatus !== 401 || !id) throw err;
                await makeRequest({
                    type: "m.login.password",
                    identifier: { type: "m.id.user", user: args.user_id },
                    password: args.password,
                    session: id,
                });
            }
        },
    });
    return client;
}

async function openDm(client) {
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
    const roomId = created.room_id;
    await waitFor(
        () => client.getRoom(roomId)?.getMember(args.bot_user_id)?.membership === "join",
        "bot to join",
    );
    // One command answered: the bot knows this DM (and has pinned our identity).
    const sent = await client.sendMessage(roomId, { msgtype: "m.text", body: "!ping" });
    await waitFor(() => {
        const tl = client.getRoom(roomId)?.getLiveTimeline().getEvents() ?? [];
        const ours = tl.findIndex((e) => e.getId() === sent.event_id);
        return tl.slice(ours + 1).some(
            (e) => e.getSender() === args.bot_user_id && e.getType() === "m.room.message",
        );
    }, "the bot's answer");
    return roomId;
}

async function run() {
    const client = await login();
    const crypto = client.getCrypto();
    const incoming = [];
    client.on(cryptoApi.CryptoEvent.VerificationRequestReceived, (req) => incoming.push(req));
    await client.startClient({ initialSyncLimit: 10 });
    await waitFor(() => client.isInitialSyncComplete(), "initial sync");
    await waitFor(() => crypto.isCrossSigningReady(), "cross-signing ready");
    const roomId = await openDm(client);
    emit({ event: "ready", room_id: roomId, device_id: client.getDeviceId() });

    let request;
    if (args.mode === "request_dm") {
        request = await crypto.requestVerificationDM(args.bot_user_id, roomId);
    } else if (args.mode === "request_to_device") {
        const devices = await crypto.getUserDeviceInfo([args.bot_user_id], true);
        const [deviceId] = [...(devices.get(args.bot_user_id)?.keys() ?? [])];
        request = await crypto.requestDeviceVerification(args.bot_user_id, deviceId);
    } else {
        request = await waitFor(() => incoming[0], "a verification request from the bot");
        await request.accept();
    }
    const phases = [];
    request.on(cryptoApi.VerificationRequestEvent.Change, () => phases.push(phaseName(request.phase)));
    await waitFor(
        () =>
            [cryptoApi.VerificationPhase.Ready, cryptoApi.VerificationPhase.Started,
             cryptoApi.VerificationPhase.Cancelled].includes(request.phase),
        "ready or started",
    );
    if (request.phase === cryptoApi.VerificationPhase.Cancelled) {
        return { phase: "Cancelled", cancel_code: request.cancellationCode, phases };
    }
    // The side that asked starts (the bot starts itself after `!verify`).
    let verifier;
    if (args.mode === "accept") {
        verifier = await waitFor(() => request.verifier, "the bot's start");
    } else {
        verifier = await request.startVerification("m.sas.v1");
    }
    verifier.on(cryptoApi.VerifierEvent.ShowSas, (sas) => {
        emit({
            event: "sas",
            emoji: (sas.sas.emoji ?? []).map((e) => e[1]),
            decimals: sas.sas.decimal ?? null,
        });
        if (args.answer === "mismatch") sas.mismatch();
        else if (args.answer === "cancel") sas.cancel();
        else void sas.confirm();
    });
    let error = null;
    try {
        await verifier.verify();
    } catch (err) {
        error = `${err?.name ?? "Error"}: ${err?.message ?? err}`;
    }
    await waitFor(
        () =>
            [cryptoApi.VerificationPhase.Done, cryptoApi.VerificationPhase.Cancelled].includes(
                request.phase,
            ),
        "done or cancelled",
        30000,
    ).catch(() => {});
    // A cancel of ours in a DM leaves by the client's own send queue: the process must not
    // end (50 ms after the result) before the server has it. Its echo in the room says so.
    if (args.answer === "cancel" && request.roomId) {
        await waitFor(
            () =>
                client
                    .getRoom(request.roomId)
                    ?.getLiveTimeline()
                    .getEvents()
                    .some(
                        (e) =>
                            e.getType() === "m.key.verification.cancel" &&
                            e.getSender() === client.getUserId(),
                    ),
            "our cancel back from the server",
            30000,
        ).catch(() => {});
    }
    // Element signs the bot's identity right after `done`: wait for that, briefly.
    let botVerified = false;
    if (request.phase === cryptoApi.VerificationPhase.Done) {
        botVerified = await waitFor(
            async () => (await crypto.getUserVerificationStatus(args.bot_user_id)).isVerified(),
            "the bot's identity verified",
            20000,
        ).catch(() => false);
    }
    return {
        phase: phaseName(request.phase),
        cancel_code: request.cancellationCode ?? null,
        bot_verified: botVerified,
        error,
        phases,
    };
}

try {
    emit({ event: "result", ...(await run()) });
    setTimeout(() => process.exit(0), 50);
} catch (err) {
    emit({ event: "result", phase: null, error: `${err?.name ?? "Error"}: ${err?.message ?? err}` });
    setTimeout(() => process.exit(1), 50);
}
