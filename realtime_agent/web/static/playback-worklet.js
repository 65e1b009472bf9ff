// The assistant's audio: 24 kHz pcm16 chunks played in order, without gaps, and a count
// of the samples really played (the silence output while the queue is empty does not
// count). The server truncates the assistant's item at this count on a barge-in, so it
// must be exactly what went out, no more.
//
// Messages in (from the page): {type: "audio", buffer} (pcm16 LE, transferred) and
// {type: "clear"} (drop everything queued now; the next epoch counts from 0).
// Messages out: {type: "played", samples} (samples output since the epoch began, every
// REPORT_QUANTA render quanta while playing and once when the queue runs dry),
// {type: "started"} (the first sample after a silence: the turn latency's end) and
// {type: "cleared", dropped} (after a clear: every later report is of the new epoch).

const REPORT_QUANTA = 4; // 4 x 128 samples at 24 kHz: a report every 21.3 ms

class Playback extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = []; // Float32Array chunks, oldest first
    this.offset = 0; // samples of queue[0] already played
    this.queued = 0; // samples waiting, in all
    this.played = 0; // samples output in this epoch
    this.reported = 0; // the count last posted
    this.quanta = 0;
    this.idle = true; // the last quantum output no audio
    this.port.onmessage = (event) => this.receive(event.data);
  }

  receive(message) {
    if (message.type === "audio") {
      const pcm = new Int16Array(message.buffer);
      const chunk = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) chunk[i] = pcm[i] / 0x8000;
      this.queue.push(chunk);
      this.queued += chunk.length;
    } else if (message.type === "clear") {
      // Barge-in: drop everything queued at once; the new epoch counts from 0. A report
      // of the old epoch still in flight is ignored by the server (it names its epoch).
      const dropped = this.queued;
      this.queue = [];
      this.offset = 0;
      this.queued = 0;
      this.played = 0;
      this.reported = 0;
      this.idle = true;
      this.port.postMessage({ type: "cleared", dropped });
    }
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    let written = 0;
    while (written < out.length && this.queue.length) {
      const chunk = this.queue[0];
      const n = Math.min(out.length - written, chunk.length - this.offset);
      out.set(chunk.subarray(this.offset, this.offset + n), written);
      written += n;
      this.offset += n;
      if (this.offset === chunk.length) {
        this.queue.shift();
        this.offset = 0;
      }
    }
    out.fill(0, written); // an underrun is silence, and is not counted
    this.queued -= written;
    this.played += written;
    if (written && this.idle) this.port.postMessage({ type: "started" });
    this.idle = written === 0;
    this.quanta++;
    const due = this.quanta % REPORT_QUANTA === 0 || this.queued === 0;
    if (this.played !== this.reported && due) {
      this.reported = this.played;
      this.port.postMessage({ type: "played", samples: this.played });
    }
    return true; // keep running: more audio will come
  }
}

registerProcessor("playback", Playback);
