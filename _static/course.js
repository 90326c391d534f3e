/* Small fixes for readers, loaded on every page (jupyter-book adds every .js in _static/). */

/* The sidebar toggles. sphinx-book-theme 1.3 and pydata-sphinx-theme 0.17 attach their
   handlers to the first .primary-toggle and .secondary-toggle of the page, a copy that is
   never shown, so the buttons a reader sees (the menu and "Contents") do nothing, on a phone
   or a laptop (upstream sphinx-book-theme issues 865 and 917). Pass their clicks on. */
document.addEventListener("click", (event) => {
  for (const selector of [".primary-toggle", ".secondary-toggle"]) {
    const clicked = event.target.closest(selector);
    const handled = document.querySelector(selector);
    if (clicked && handled && clicked !== handled) {
      event.preventDefault();
      event.stopPropagation();
      handled.click();
      return;
    }
  }
});

/* A folded box (a solution on the web) opens when its title is clicked, anywhere in it.
   sphinx-togglebutton 0.4 looks for its button from the element clicked, and finds none when
   that is inside the title (its math, or what was a link): the click did nothing but throw.
   Such a click is handed to the title itself. */
document.addEventListener(
  "click",
  (event) => {
    const title = event.target.closest(".admonition.toggle > .admonition-title");
    if (!title || event.target === title || event.target.closest(".toggle-button")) return;
    event.preventDefault();
    event.stopPropagation();
    title.click();
  },
  true,
);

/* Wide equations and figures scroll sideways (course.css). Each scrolling box goes inside a
   .scroll-hint that says which sides have more behind them ("left", "right", both or none),
   kept up to date as the reader scrolls or the window changes; a figure first gets a box of
   its own to scroll in. */
function hint(box) {
  if (box.parentElement.classList.contains("scroll-hint")) return box;
  const wrapper = document.createElement("div");
  wrapper.className = "scroll-hint";
  box.before(wrapper);
  wrapper.append(box);
  const mark = () => {
    const more = [];
    if (box.scrollLeft > 1) more.push("left");
    if (box.scrollLeft + box.clientWidth < box.scrollWidth - 1) more.push("right");
    wrapper.dataset.scrolls = more.join(" ");
  };
  box.addEventListener("scroll", mark, { passive: true });
  // Again whenever the box changes size: the window resized, a folded solution opened.
  new ResizeObserver(mark).observe(box);
  mark();
  return box;
}

function hintAll() {
  document.querySelectorAll(".cell_output > img, figure img").forEach((img) => {
    if (img.parentElement.classList.contains("figure-scroll")) return;
    const box = document.createElement("div");
    box.className = "figure-scroll";
    img.before(box);
    box.append(img);
    hint(box);
  });
  document.querySelectorAll('mjx-container[display="true"]').forEach(hint);
}

window.addEventListener("load", () => {
  // Equations take their width once MathJax has typeset them.
  const typeset = window.MathJax?.startup?.promise ?? Promise.resolve();
  typeset.then(hintAll);
});

/* Paper cannot scroll: before printing, shrink each display equation, and each block of code
   or program output, wider than the page until it fits (its lines kept), and restore it
   afterwards. (tools/handout_pdf.py sends "beforeprint" itself once the page is laid out
   for print.) */
function shrinkToFit(box, size) {
  // Measured as on screen, where the box scrolls (so its full width counts).
  const overflow = box.style.overflowX;
  box.style.setProperty("overflow-x", "auto", "important");
  const [inner, outer] = [box.scrollWidth, box.clientWidth];
  box.style.overflowX = overflow;
  if (inner > outer + 1) {
    box.dataset.printFontSize = box.style.fontSize;
    box.style.fontSize = size(inner, outer);
  }
}
window.addEventListener("beforeprint", () => {
  document.querySelectorAll('mjx-container[display="true"]').forEach((math) =>
    // MathJax sets the container's font-size itself (to match the text): scale that.
    shrinkToFit(math, (inner, outer) =>
      `${(0.98 * (parseFloat(math.style.fontSize) || 100) * outer) / inner}%`));
  document.querySelectorAll("pre").forEach((pre) =>
    shrinkToFit(pre, (inner, outer) =>
      `${(0.98 * parseFloat(getComputedStyle(pre).fontSize) * outer) / inner}px`));
});
window.addEventListener("afterprint", () => {
  document.querySelectorAll("[data-print-font-size]").forEach((box) => {
    box.style.fontSize = box.dataset.printFontSize;
    delete box.dataset.printFontSize;
  });
});

/* The sidebar toggles' Bootstrap tooltips ("Toggle primary sidebar") show on focus, and
   closing the menu gives the focus back to its toggle: after Escape, the tooltip stayed over
   the icons. These two buttons keep their name (title, read by screen readers and shown by
   the browser on hover) without the Bootstrap tooltip. */
window.addEventListener("load", () => {
  document.querySelectorAll(".primary-toggle, .secondary-toggle").forEach((button) => {
    window.bootstrap?.Tooltip.getInstance(button)?.dispose();
    button.removeAttribute("data-bs-toggle");
  });
});
