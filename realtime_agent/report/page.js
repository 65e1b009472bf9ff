"use strict";
// The drawing is SVG made by the report; this only reads its data, moves the playhead
// with the player, and seeks where the timeline or a turn is clicked. Nothing is fetched.
(() => {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  window.recordingReport = data;
  const svg = document.getElementById("timeline-svg");
  const playhead = document.getElementById("playhead");
  const audio = document.getElementById("audio");
  const x = (t) => data.left + Math.min(Math.max(t, 0), data.duration) * data.pixels_per_second;
  const turns = Array.from(document.querySelectorAll("li.turn"));
  function show(t) {
    playhead.setAttribute("x1", x(t));
    playhead.setAttribute("x2", x(t));
    let current = null;
    for (const item of turns) if (Number(item.dataset.start) <= t) current = item;
    for (const item of turns) item.classList.toggle("current", item === current);
  }
  function seek(t) {
    svg.classList.add("playing");
    show(t);
    if (audio) audio.currentTime = t;
  }
  svg.addEventListener("click", (event) => {
    const box = svg.getBoundingClientRect();
    const t = (event.clientX - box.left - data.left) / data.pixels_per_second;
    if (t >= 0 && t <= data.duration) seek(t);
  });
  for (const link of document.querySelectorAll("a.seek")) {
    link.addEventListener("click", () => seek(Number(link.dataset.t)));
  }
  if (audio) {
    const follow = () => {
      show(audio.currentTime);
      if (!audio.paused) requestAnimationFrame(follow);
    };
    audio.addEventListener("play", () => { svg.classList.add("playing"); follow(); });
    audio.addEventListener("seeked", () => show(audio.currentTime));
  }
})();
