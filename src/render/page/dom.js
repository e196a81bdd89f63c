// Building DOM nodes from data. Text always goes in as text (node names and error
// details come from the network), never as HTML.

/**
 * `<tag>` with `attrs` (`class`, `data-*`, `scope`, ... set as attributes; `text` as
 * its text) and `children` (nodes, strings, or null to skip).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replaces the children of the element with id `id`. */
export function fill(id, ...children) {
  document.getElementById(id).replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

/** Sets the text of the element with id `id`. */
export function setText(id, text) {
  document.getElementById(id).textContent = text;
}

/** A node's state as a word and a shape, not colour alone. */
export function upBadge(up) {
  return el("span", { class: up ? "badge up" : "badge down", text: up ? "● up" : "✕ down" });
}

/**
 * A bar for a share of 1, its label, and a second line with the amount; the width is
 * set through the CSSOM (allowed by the page's CSP, unlike a `style` attribute).
 */
export function shareBar(share, label, amount) {
  const fillBar = el("span", { class: "fill" });
  const known = typeof share === "number" && Number.isFinite(share);
  fillBar.style.width = `${known ? Math.max(0, Math.min(1, share)) * 100 : 0}%`;
  return el(
    "div",
    { class: known ? "share" : "share unknown" },
    el("span", { class: "bar" }, fillBar),
    el("span", { class: "value", text: label }),
    el("span", { class: "amount", text: amount }),
  );
}
