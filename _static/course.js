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

/* Paper cannot scroll: before printing, shrink each display equation wider than the page
   until it fits, and restore it afterwards. (tools/handout_pdf.py sends "beforeprint" itself
   once the page is laid out for print.) */
window.addEventListener("beforeprint", () => {
  document.querySelectorAll('mjx-container[display="true"]').forEach((math) => {
    // Measured as on screen, where the equation scrolls (so its full width counts).
    const overflow = math.style.overflowX;
    math.style.overflowX = "auto";
    const [inner, outer] = [math.scrollWidth, math.clientWidth];
    math.style.overflowX = overflow;
    if (inner > outer + 1) {
      // MathJax sets the container's font-size itself (to match the text): scale that.
      math.dataset.printFontSize = math.style.fontSize;
      const size = parseFloat(math.style.fontSize) || 100;
      math.style.fontSize = `${(0.98 * size * outer) / inner}%`;
    }
  });
});
window.addEventListener("afterprint", () => {
  document.querySelectorAll("mjx-container[data-print-font-size]").forEach((math) => {
    math.style.fontSize = math.dataset.printFontSize;
    delete math.dataset.printFontSize;
  });
});
