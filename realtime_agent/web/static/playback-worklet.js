// The assistant's audio: 24 kHz pcm16 chunks played in order, without gaps, and a count
// of the samples really played (silence while the queue is empty does not count).
// The count is what the server truncates at on a barge-in, so it must be exact.
class Playback extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = []; // Float32Array chunks
    this.offset = 0; // into queue[0]
    this.played = 0; // samples played in this epoch
    this.reported = 0;
    this.quanta = 0;
    this.port.onmessage = (event) => {
      const message = event.data;
      if (message.type === "audio") {
        const pcm = new Int16Array(message.buffer);
        const chunk = new Float32Array(pcm.length);
        for (let i = 0; i < pcm.length; i++) chunk[i] = pcm[i] / 0x8000;
        this.queue.push(chunk);
      } else if (message.type === "clear") {
        // Barge-in: drop everything queued at once; a new epoch counts from 0.
        this.queue = [];
        this.offset = 0;
        this.played = 0;
        this.reported = 0;
        this.port.postMessage({ type: "cleared" });
      }
    };
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
    this.played += written;
    // Report every 4 render quanta (about 21 ms), and whenever the queue runs dry.
    this.quanta++;
    if (this.played !== this.reported && (this.quanta % 4 === 0 || !this.queue.length)) {
      this.reported = this.played;
      this.port.postMessage({ type: "played", samples: this.played });
    }
    return true;
  }
}

registerProcessor("playback", Playback);
