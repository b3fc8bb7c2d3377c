// Building HTML and SVG elements. Every name from the config goes in through textContent or an attribute,
// never as markup.

const SVG_NS = "http://www.w3.org/2000/svg";

export function el(name, attrs, parent) {
  const e = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

export function text(parent, x, y, content, cls) {
  const t = el("text", {x, y}, parent);
  if (cls) t.setAttribute("class", cls);
  t.textContent = content;
  return t;
}

export function shorten(s, n) { return s.length > n ? s.slice(0, n - 1) + "…" : s; }


export function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

export function table(headers, rows, cls) {
  const t = h("table", cls ? {class: cls} : {});
  t.append(h("thead", {}, h("tr", {}, ...headers.map(x => h("th", {}, x)))));
  const body = h("tbody");
  for (const row of rows) body.append(h("tr", {}, ...row.map((cell, i) => {
    const td = h("td", {"data-column": headers[i]}, cell && cell.text !== undefined ? cell.text : cell);
    if (cell && cell.cls) td.className = cell.cls;
    return td;
  })));
  t.append(body);
  return t;
}
