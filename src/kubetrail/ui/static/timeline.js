// kubetrail web UI, the timeline: draws each lane's marks from the page's JSON data block
// (#tl-marks, see kubetrail/ui/marks.py), and moves between lanes and marks with the keys.
//   j / ArrowDown, k / ArrowUp   the next / previous lane (its label)
//   ArrowRight, ArrowLeft        the next / previous mark of the lane
//   Enter                        opens the lane's or the mark's object page
// A mark's counts are its hover title, and are shown in #tl-status when it is hovered
// or focused.
"use strict";
(() => {
  const block = document.getElementById("tl-marks");
  if (!block) return;
  const view = JSON.parse(block.textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const status = document.getElementById("tl-status");

  const markHref = (lane, version) =>
    version ? `${lane.url}#rv-${encodeURIComponent(version)}` : lane.url;

  for (const svg of document.querySelectorAll("svg.lane-marks[data-lane-index]")) {
    const lane = view.lanes[Number(svg.dataset.laneIndex)];
    if (!lane) continue;
    const drawn = document.createDocumentFragment();
    for (const [bucket, kind, text, version] of lane.marks) {
      const [x, width, label] = view.buckets[bucket];
      const link = document.createElementNS(SVG, "a");
      link.setAttribute("href", markHref(lane, version));
      link.setAttribute("tabindex", "-1"); // reached with the arrow keys, not Tab
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("class", `mark mark-${view.kinds[kind]}`);
      rect.setAttribute("x", x);
      rect.setAttribute("y", "0");
      rect.setAttribute("width", width);
      rect.setAttribute("height", "10");
      const title = document.createElementNS(SVG, "title");
      title.textContent = `${label}: ${view.texts[text]}`;
      rect.appendChild(title);
      link.appendChild(rect);
      drawn.appendChild(link);
    }
    svg.appendChild(drawn);
  }

  const laneOf = (element) => element && element.closest && element.closest("li.lane");
  const marksOf = (lane) => Array.from(lane.querySelectorAll("svg.lane-marks a"));

  const show = (element) => {
    const mark = element && element.closest && element.closest("svg.lane-marks a");
    const lane = laneOf(mark);
    if (!mark || !lane || !status) return;
    const name = lane.querySelector(".lane-label").textContent.replace("└", "").trim();
    status.textContent = `${name} · ${mark.querySelector("title").textContent}`;
  };
  document.addEventListener("mouseover", (event) => show(event.target));
  document.addEventListener("focusin", (event) => show(event.target));

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
    const lanes = Array.from(document.querySelectorAll("li.lane"));
    if (!lanes.length) return;
    const current = laneOf(document.activeElement);
    const step = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1 }[event.key];
    if (step !== undefined) {
      // arrows move between lanes only once one has the focus: they scroll the page else
      if (!current && event.key.startsWith("Arrow")) return;
      const at = current ? lanes.indexOf(current) + step : step > 0 ? 0 : lanes.length - 1;
      const next = lanes[Math.min(Math.max(at, 0), lanes.length - 1)];
      event.preventDefault();
      next.querySelector(".lane-label").focus();
      next.scrollIntoView({ block: "nearest" });
      return;
    }
    if (!current) return;
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      const marks = marksOf(current);
      if (!marks.length) return;
      const at = marks.indexOf(document.activeElement);
      let next;
      if (event.key === "ArrowRight") next = at < 0 ? 0 : Math.min(at + 1, marks.length - 1);
      else next = at <= 0 ? -1 : at - 1;
      event.preventDefault();
      if (next < 0) current.querySelector(".lane-label").focus();
      else marks[next].focus();
      return;
    }
    if (event.key === "Enter" && document.activeElement instanceof SVGAElement) {
      // a mark: SVG links are not followed on Enter by every browser
      event.preventDefault();
      window.location.assign(document.activeElement.getAttribute("href"));
    }
  });
})();
