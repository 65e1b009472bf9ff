// The voice page: the browser side of the relay protocol (realtime_agent/web/relay.py).
// Microphone -> capture worklet (device rate) -> binary frames -> the relay;
// the relay's binary frames -> playback worklet (24 kHz) -> the speakers, and back the
// samples really played ("played" reports), so a barge-in cuts exactly what was heard.
"use strict";

const $ = (id) => document.getElementById(id);
const stats = (window.voiceStats = {
  state: "idle", played: 0, reports: 0, clears: 0, epoch: 0,
  transcripts: [], tools: [], turns: [], closed: null,
});

let socket = null;
const early = []; // microphone frames from before the relay was ready
let capture = null; // {context, stream, node}
let playback = null; // {context, node}
let epoch = 0; // the epoch of the worklet's counts
let pendingEpoch = 0; // the epoch announced by the last clear
let speechStoppedAt = null;
let waitingFirstSample = false;
const items = new Map(); // item_id -> <li>
const tools = new Map(); // call_id -> <li>

function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

function line(kind, text, key) {
  const li = document.createElement("li");
  li.className = kind;
  li.textContent = text;
  $("log").appendChild(li);
  if (key) items.set(key, li);
  li.scrollIntoView({ block: "end" });
  return li;
}

function token() {
  const match = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : undefined;
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

async function start() {
  $("start").disabled = true;
  stats.state = "starting";
  setStatus("Asking for the microphone...");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 },
    });
  } catch (error) {
    const refused = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
    stats.state = "mic-refused";
    setStatus(refused
      ? "The microphone was refused. Allow it for this page (the icon in the address bar) and press Start again."
      : `No microphone could be opened (${error && error.name ? error.name : error}).`, true);
    $("start").disabled = false;
    return;
  }
  const captureContext = new AudioContext(); // the device's rate
  const playbackContext = new AudioContext({ sampleRate: 24000 }); // the assistant's rate
  await Promise.all([
    captureContext.audioWorklet.addModule("/static/capture-worklet.js"),
    playbackContext.audioWorklet.addModule("/static/playback-worklet.js"),
  ]);
  const source = captureContext.createMediaStreamSource(stream);
  const captureNode = new AudioWorkletNode(captureContext, "capture");
  source.connect(captureNode); // not to the speakers: the worklet only listens
  const playbackNode = new AudioWorkletNode(playbackContext, "playback");
  playbackNode.connect(playbackContext.destination);
  capture = { context: captureContext, stream, node: captureNode };
  playback = { context: playbackContext, node: playbackNode };
  await playbackContext.resume();
  await captureContext.resume();
  connect(captureContext.sampleRate);
}

function connect(rate) {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/relay`;
  setStatus("Connecting...");
  socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => send({ type: "hello", token: token(), rate });
  socket.onmessage = (event) => {
    if (event.data instanceof ArrayBuffer) {
      playback.node.port.postMessage({ type: "audio", buffer: event.data }, [event.data]);
      return;
    }
    handle(JSON.parse(event.data));
  };
  socket.onerror = () => {};
  socket.onclose = (event) => {
    const opened = stats.state === "talking";
    stats.state = "closed";
    if (!stats.closed) stats.closed = event.reason || `closed (${event.code})`;
    if (event.code === 1000 && opened) setStatus("The conversation ended.");
    else if (!opened && !event.reason) setStatus(`The voice server at ${location.host} cannot be reached. Is it running?`, true);
    else setStatus(`The conversation ended: ${stats.closed}`, event.code !== 1000);
    stop(false);
  };
  capture.node.port.onmessage = (event) => {
    if (stats.state === "talking" && socket.readyState === WebSocket.OPEN) {
      socket.send(event.data);
    } else if (stats.state === "starting") {
      // Said while the relay connects: kept (the last 4 s: the relay allows bursts of
      // 5 s) and sent once it is ready.
      early.push(event.data);
      if (early.length > 200) early.shift();
    }
  };
  playback.node.port.onmessage = (event) => {
    const message = event.data;
    if (message.type === "cleared") {
      // The worklet has dropped its queue: its counts from now on are of the new epoch.
      // (Reports it sent before this are of the old one, and are sent as such.)
      epoch = pendingEpoch;
      stats._lastSamples = 0;
      return;
    }
    if (message.type !== "played") return;
    if (waitingFirstSample && speechStoppedAt !== null) {
      waitingFirstSample = false;
      const ms = Math.round(performance.now() - speechStoppedAt);
      stats.turns.push(ms);
      $("latency").textContent = `turn latency: ${ms} ms heard`;
    }
    stats.played += message.samples - (stats._lastSamples || 0);
    stats._lastSamples = message.samples;
    stats.reports++;
    send({ type: "played", epoch, samples: message.samples });
  };
}

function handle(message) {
  switch (message.type) {
    case "ready":
      stats.state = "talking";
      for (const frame of early.splice(0)) socket.send(frame);
      epoch = pendingEpoch = message.epoch;
      setStatus("Listening. Speak; speak over the answer to interrupt it.");
      $("stop").disabled = false;
      $("typed").hidden = false;
      break;
    case "clear":
      // Barge-in: stop the audio now; count from 0 in the new epoch.
      pendingEpoch = stats.epoch = message.epoch;
      stats.clears++;
      stats.reportedAtClear = stats._lastSamples || 0; // the last position told the server
      playback.node.port.postMessage({ type: "clear" });
      break;
    case "speech_started":
      setStatus("Hearing you...");
      break;
    case "speech_stopped":
      speechStoppedAt = performance.now();
      waitingFirstSample = true;
      setStatus("Thinking...");
      break;
    case "transcript_delta": {
      const li = items.get(message.item_id) || line(message.role, "", message.item_id);
      li.textContent += message.delta;
      break;
    }
    case "transcript": {
      const li = items.get(message.item_id) || line(message.role, "", message.item_id);
      li.textContent = message.text;
      stats.transcripts.push({ role: message.role, text: message.text });
      if (message.role === "assistant") setStatus("Listening.");
      break;
    }
    case "tool_start":
      tools.set(message.call_id, line("tool", `${message.name}(${message.arguments}) ...`));
      stats.tools.push({ name: message.name, arguments: message.arguments });
      break;
    case "tool_end": {
      const li = tools.get(message.call_id) || line("tool", "");
      li.textContent = `${message.name} -> ${message.error ? "error: " + message.error : message.output}`;
      const entry = stats.tools.find((t) => t.name === message.name && t.output === undefined);
      if (entry) entry.output = message.output;
      break;
    }
    case "interrupted": {
      const li = items.get(message.item_id);
      if (li) li.classList.add("cut");
      stats.interrupted = message;
      break;
    }
    case "turn":
      stats.serverTurn = message.latency_ms;
      break;
    case "error":
      line("note", `(the service said: ${message.message})`);
      break;
    case "closed":
      stats.closed = message.reason;
      break;
  }
}

function stop(close = true) {
  if (close && socket) socket.close(1000);
  if (capture) {
    capture.stream.getTracks().forEach((track) => track.stop());
    capture.context.close();
    capture = null;
  }
  if (playback) {
    playback.context.close();
    playback = null;
  }
  $("start").disabled = false;
  $("stop").disabled = true;
  $("typed").hidden = true;
}

$("start").onclick = start;
$("stop").onclick = () => stop(true);
$("typed").onsubmit = (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  if (text) {
    send({ type: "text", text });
    line("user", text);
    $("text").value = "";
  }
};
if (/(^|[#&])autostart\b/.test(location.hash)) start();
