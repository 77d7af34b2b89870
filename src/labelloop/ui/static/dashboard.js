// The dashboard's charts: each figure's JSON is in its element's data-figure attribute (never in a
// script element); Plotly draws it. When every chart is drawn, <body data-charts="ready"> tells tests.
"use strict";

(() => {
  function draw(el) {
    let figure;
    try {
      figure = JSON.parse(el.getAttribute("data-figure"));
    } catch (err) {
      labelloop.text(el, "This chart could not be read.");
      return Promise.resolve();
    }
    const config = { displayModeBar: false, responsive: true, displaylogo: false };
    return window.Plotly.newPlot(el, figure.data || [], figure.layout || {}, config).catch(() => {
      labelloop.text(el, "This chart could not be drawn; its numbers are in the table below.");
    });
  }

  function start() {
    const plots = Array.from(document.querySelectorAll("[data-figure]"));
    if (!window.Plotly) {
      plots.forEach((el) => labelloop.text(el, "Charts need plotly.js, which did not load; the numbers are in the tables."));
      document.body.setAttribute("data-charts", "failed");
      return;
    }
    Promise.all(plots.map(draw)).then(() => document.body.setAttribute("data-charts", "ready"));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
