// The voice page: the browser side of the relay protocol (WS /relay, v1; the README and
// realtime_agent/web/relay.py describe it).
//
//   microphone -> capture worklet (the device's rate, 20 ms pcm16 frames) -> the relay
//   the relay's pcm16 24 kHz frames -> playback worklet -> the speakers
//   playback worklet -> "played" reports (samples really output, per epoch) -> the relay
//
// The reports are what makes a barge-in exact: the server truncates the assistant's item
// at the last position the page reported. A `clear` starts a new epoch: the page drops its
// queued audio at once and counts from 0 again, and a report of the old epoch still on its
// way is ignored by the server because it names its epoch.
"use strict";

const OUTPUT_RATE = 24000; // the assistant's audio, as the relay sends it
const EARLY_FRAMES = 200; // 4 s of microphone kept while the relay connects (it allows 5 s bursts)
const $ = (id) => document.getElementById(id);

// The page's own figures, for people and for the tests (page.evaluate("window.voiceStats")).
const stats = (window.voiceStats = {
  state: "idle", // idle, starting, connecting, talking, closed, mic-refused, mic-failed, failed
  received: 0, // samples of the assistant's audio received, all epochs together
  played: 0, // samples of it played (received = played + dropped + still queued)
  reports: 0, // played reports sent
  clears: 0, // clear messages obeyed
  dropped: 0, // queued samples the clears dropped
  epoch: 0, // the epoch the page reports in (the last clear's)
  rate: null, // the microphone rate announced in the hello
  upstream: null, // what the relay talks to (from `ready`)
  transcripts: [], // final transcripts: {role, item_id, text}
  tools: [], // {call_id, name, arguments, output, error, done}
  turns: [], // {item_id, heard_ms, server_ms}: speech_stopped -> first sample played; the
  //            server's figure (its `turn` message, once the turn is over: matched by item_id)
  responses: [], // {response_id, epoch, at, status}: at = samples received in the epoch before it
  errors: [], // the `error` messages: {code, message}
  sent: [], // the last played reports sent in the current epoch (samples)
  interruptions: [], // the `interrupted` messages, each with at_clear: {epoch, sent, received},
  //                    the page's reports in the epoch its clear ended (the server cut at one)
  closed: null, // why the conversation ended
});

// The token comes in the URL's fragment (#token=...), which browsers never send to a
// server; the page sends it only in the hello. It is then taken out of the address bar, so
// that it is not left in the history or in a shared link.
const fragment = new URLSearchParams(location.hash.slice(1));
const token = fragment.get("token") || undefined;
const autostart = fragment.has("autostart");
if (token) {
  fragment.delete("token");
  const rest = fragment.toString().replace(/=(&|$)/g, "$1"); // "autostart=" -> "autostart"
  history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
}

let call = null; // the conversation under way (see openAudio())
const lines = new Map(); // item_id -> its <li> in the log
const toolLines = new Map(); // call_id -> {li, result}

// -- the page ------------------------------------------------------------------------

function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

function line(kind, text = "") {
  const li = document.createElement("li");
  li.className = kind;
  li.textContent = text;
  $("log").appendChild(li);
  li.scrollIntoView({ block: "end" });
  return li;
}

function itemLine(role, itemId) {
  let li = lines.get(itemId);
  if (!li) {
    li = line(role);
    lines.set(itemId, li);
  }
  return li;
}

function describe(error) {
  return (error && (error.message || error.name)) || String(error);
}

function showLatency(turn) {
  const parts = [];
  if (turn.heard_ms !== null) parts.push(`${turn.heard_ms} ms to the first sound`);
  if (turn.server_ms !== null) parts.push(`server: ${turn.server_ms} ms`);
  $("latency").textContent = `Turn ${stats.turns.indexOf(turn) + 1}: ${parts.join(", ")}`;
}

// -- starting: the microphone, the two audio contexts, the socket ---------------------

async function start() {
  if (call) return;
  $("start").disabled = true;
  stats.state = "starting";
  if (!window.isSecureContext || !navigator.mediaDevices || !window.AudioWorkletNode) {
    stats.state = "failed";
    setStatus("The microphone needs a secure page: open it over https (or on localhost).", true);
    $("start").disabled = false;
    return;
  }
  setStatus("Asking for the microphone...");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      // Echo cancellation keeps the assistant's own voice (from the speakers) from
      // interrupting it; the server's VAD hears only the caller.
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
  } catch (error) {
    microphoneFailed(error);
    return;
  }
  try {
    call = await openAudio(stream);
  } catch (error) {
    stream.getTracks().forEach((track) => track.stop());
    stats.state = "failed";
    setStatus(`The page could not start its audio (${describe(error)}).`, true);
    $("start").disabled = false;
    return;
  }
  connect();
}

function microphoneFailed(error) {
  const name = error && error.name;
  const refused = name === "NotAllowedError" || name === "SecurityError";
  stats.state = refused ? "mic-refused" : "mic-failed";
  const messages = {
    NotAllowedError:
      "The microphone was refused. Allow it for this page (the icon in the address bar), then press Start again.",
    NotFoundError: "No microphone was found. Connect one, then press Start again.",
    NotReadableError: "The microphone could not be opened: another application may be using it.",
    OverconstrainedError: "The microphone cannot record as this page asks.",
  };
  messages.SecurityError = messages.NotAllowedError;
  setStatus(messages[name] || `No microphone could be opened (${describe(error)}).`, true);
  $("start").disabled = false;
}

async function openAudio(stream) {
  // Capture at the microphone's own rate: the browser does not resample, the server does
  // (soxr, hello.rate). A browser that cannot open a context at that rate gets its default.
  const track = stream.getAudioTracks()[0];
  const deviceRate = track.getSettings().sampleRate;
  let captureContext;
  try {
    captureContext = new AudioContext(deviceRate ? { sampleRate: deviceRate } : {});
  } catch {
    captureContext = new AudioContext();
  }
  const playbackContext = new AudioContext({ sampleRate: OUTPUT_RATE });
  await Promise.all([
    captureContext.audioWorklet.addModule("/static/capture-worklet.js"),
    playbackContext.audioWorklet.addModule("/static/playback-worklet.js"),
  ]);
  const captureNode = new AudioWorkletNode(captureContext, "capture", { numberOfOutputs: 0 });
  captureContext.createMediaStreamSource(stream).connect(captureNode); // listened to, not played
  const playbackNode = new AudioWorkletNode(playbackContext, "playback", {
    numberOfInputs: 0,
    outputChannelCount: [1],
  });
  playbackNode.connect(playbackContext.destination);
  track.onended = () => {
    if (call) setStatus("The microphone stopped (unplugged, or taken by the system).", true);
  };
  await running([captureContext, playbackContext]);
  return {
    socket: null,
    opened: false, // the socket opened (else: the relay could not be reached)
    stopping: false, // the user pressed Stop
    capture: { context: captureContext, stream, node: captureNode },
    playback: { context: playbackContext, node: playbackNode },
    early: [], // microphone frames from before the relay was ready (the last EARLY_FRAMES)
    epoch: 0, // the epoch of the worklet's counts
    pendingEpoch: 0, // the epoch of the last clear (the worklet's once it says "cleared")
    lastSamples: 0, // the worklet's last count
    received: 0, // samples received in the pending epoch
    atClear: null, // the page's side of the last clear (see stats.interruptions)
    turn: null, // the turn whose latency is being measured (one of stats.turns)
    stoppedAt: 0, // when its speech_stopped came (performance.now())
  };
}

// The autoplay policy lets a page start audio only once the user has interacted with it:
// with #autostart and no click yet the contexts stay suspended until one.
async function running(contexts) {
  const suspended = () => contexts.filter((context) => context.state !== "running");
  const resumed = Promise.all(contexts.map((context) => context.resume()));
  await Promise.race([resumed, new Promise((resolve) => setTimeout(resolve, 1000))]);
  if (!suspended().length) return;
  setStatus("Click anywhere on the page to start the sound.");
  await new Promise((resolve) => document.addEventListener("pointerdown", resolve, { once: true }));
  await Promise.all(suspended().map((context) => context.resume()));
}

function connect() {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/relay`;
  stats.state = "connecting";
  setStatus("Connecting...");
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  call.socket = socket;
  socket.onopen = () => {
    call.opened = true;
    stats.rate = call.capture.context.sampleRate;
    send({ type: "hello", token, rate: stats.rate }); // no token (undefined): --insecure
  };
  socket.onmessage = (event) => {
    if (event.data instanceof ArrayBuffer) received(event.data);
    else handle(JSON.parse(event.data));
  };
  socket.onclose = closed;
  // The microphone's frames (queued in the port since the worklet started) go out once
  // the relay is ready; what is said before that is kept, so a slow start loses no words.
  call.capture.node.port.onmessage = (event) => {
    if (stats.state === "talking") {
      if (socket.readyState === WebSocket.OPEN) socket.send(event.data);
    } else {
      call.early.push(event.data);
      if (call.early.length > EARLY_FRAMES) call.early.shift();
    }
  };
  call.playback.node.port.onmessage = (event) => fromPlayback(event.data);
}

function send(message) {
  if (call && call.socket && call.socket.readyState === WebSocket.OPEN) {
    call.socket.send(JSON.stringify(message));
  }
}

// -- the assistant's audio and the played reports --------------------------------------

function received(buffer) {
  call.received += buffer.byteLength / 2;
  stats.received += buffer.byteLength / 2;
  call.playback.node.port.postMessage({ type: "audio", buffer }, [buffer]);
}

function fromPlayback(message) {
  if (!call) return;
  switch (message.type) {
    case "cleared":
      // The worklet has dropped its queue: its counts from now on are of the new epoch.
      // (The reports it posted before this were of the old one, and went out as such.)
      call.epoch = call.pendingEpoch;
      call.lastSamples = 0;
      stats.dropped += message.dropped;
      break;
    case "started": // the first sample after a silence
      if (call.turn && call.turn.heard_ms === null) {
        call.turn.heard_ms = Math.round(performance.now() - call.stoppedAt);
        showLatency(call.turn);
      }
      break;
    case "played":
      stats.played += message.samples - call.lastSamples;
      call.lastSamples = message.samples;
      stats.reports++;
      send({ type: "played", epoch: call.epoch, samples: message.samples });
      if (call.epoch === call.pendingEpoch) {
        stats.sent.push(message.samples);
        if (stats.sent.length > 8) stats.sent.shift();
      }
      break;
  }
}

// -- the relay's control messages --------------------------------------------------------

function handle(message) {
  switch (message.type) {
    case "ready":
      for (const frame of call.early.splice(0)) call.socket.send(frame);
      stats.state = "talking";
      stats.upstream = message.upstream;
      call.epoch = call.pendingEpoch = stats.epoch = message.epoch;
      setStatus("Listening. Speak; speak over the answer to interrupt it.");
      $("stop").disabled = false;
      $("typed").hidden = false;
      break;
    case "clear":
      // Barge-in: stop the audio now and count from 0 in the new epoch. What the server
      // cuts at is one of the reports sent so far (the last one it received).
      call.atClear = { epoch: call.pendingEpoch, sent: stats.sent.slice(), received: call.received };
      stats.sent = [];
      call.pendingEpoch = stats.epoch = message.epoch;
      call.received = 0;
      stats.clears++;
      call.playback.node.port.postMessage({ type: "clear" });
      break;
    case "speech_started":
      setStatus("Hearing you...");
      break;
    case "speech_stopped":
      call.turn = { item_id: message.item_id, heard_ms: null, server_ms: null };
      call.stoppedAt = performance.now();
      stats.turns.push(call.turn);
      setStatus("Thinking...");
      break;
    case "turn": {
      // It comes once the turn is over, possibly after the next one began (a barge-in):
      // the turn it is of is the one whose speech_stopped named its item. (A typed turn,
      // item_id null, has no speech_stopped: no entry.) Shown if it is still the latest.
      const turn = message.item_id && stats.turns.find((t) => t.item_id === message.item_id);
      if (turn && turn.server_ms === null) {
        turn.server_ms = message.latency_ms;
        if (turn === call.turn) showLatency(turn);
      }
      break;
    }
    case "response_start":
      stats.responses.push({ response_id: message.response_id, epoch: call.pendingEpoch, at: call.received });
      break;
    case "response_end": {
      const response = stats.responses.find((r) => r.response_id === message.response_id);
      if (response) response.status = message.status;
      if (stats.state === "talking") setStatus("Listening.");
      break;
    }
    case "transcript_delta":
      itemLine(message.role, message.item_id).textContent += message.delta;
      break;
    case "transcript":
      itemLine(message.role, message.item_id).textContent = message.text;
      stats.transcripts.push({ role: message.role, item_id: message.item_id, text: message.text });
      break;
    case "tool_start":
      toolStarted(message);
      break;
    case "tool_end":
      toolEnded(message);
      break;
    case "interrupted": {
      const li = lines.get(message.item_id);
      if (li) li.classList.add("cut");
      stats.interruptions.push({ ...message, at_clear: call.atClear });
      break;
    }
    case "error":
      stats.errors.push({ code: message.code, message: message.message });
      line("note", `(the service said: ${message.message})`);
      break;
    case "closed":
      stats.closed = message.reason;
      break;
  }
}

function toolStarted(message) {
  const li = line("tool");
  const name = document.createElement("b");
  name.textContent = message.name;
  const args = document.createElement("code");
  args.textContent = message.arguments;
  const result = document.createElement("span");
  result.className = "result running";
  result.textContent = "running...";
  li.append(name, " ", args, " ", result);
  toolLines.set(message.call_id, { li, result });
  stats.tools.push({ call_id: message.call_id, name: message.name, arguments: message.arguments, done: false });
}

function toolEnded(message) {
  const shown = toolLines.get(message.call_id);
  if (shown) {
    shown.result.className = message.error ? "result failed" : "result";
    shown.result.textContent = message.error ? `failed: ${message.error}` : `-> ${message.output}`;
  }
  const entry = stats.tools.find((tool) => tool.call_id === message.call_id);
  if (entry) Object.assign(entry, { output: message.output, error: message.error, done: true });
}

// -- the end -----------------------------------------------------------------------------

const CLOSE_CODES = {
  1001: "the server is restarting",
  1006: "the connection was lost",
  1008: "the server refused the call",
  1009: "a message was too big",
  1011: "the voice service failed",
  1013: "the server is busy; try again in a moment",
};

function closed(event) {
  if (!call) return;
  const talking = stats.state === "talking";
  const reason = stats.closed || event.reason || CLOSE_CODES[event.code] || `closed (${event.code})`;
  stats.closed = reason;
  stats.state = "closed";
  if (call.stopping) {
    setStatus("The conversation ended.");
  } else if (!call.opened) {
    setStatus(`The voice server at ${location.host} cannot be reached. Is it running?`, true);
  } else if (!talking) {
    setStatus(`The voice server refused the call: ${reason}`, true);
  } else {
    setStatus(`The conversation ended: ${reason}`, event.code !== 1000);
  }
  release();
}

function release() {
  call.capture.stream.getTracks().forEach((track) => track.stop());
  call.capture.context.close();
  call.playback.context.close();
  call = null;
  $("start").disabled = false;
  $("stop").disabled = true;
  $("typed").hidden = true;
}

$("start").onclick = start;
$("stop").onclick = () => {
  if (!call) return;
  call.stopping = true;
  call.socket.close(1000);
};
$("typed").onsubmit = (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  if (text && stats.state === "talking") {
    send({ type: "text", text });
    line("user", text);
    $("text").value = "";
  }
};
if (autostart) start();
