// Shared by the wall and the live view: elements made with their text as text (never as HTML: values
// come from the server and from stored records) and message templates filled by name ({n}, {counter}).
window.RxDom = (function () {
  "use strict";
  const el = (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  };
  const fill = (template, values) => Object.entries(values).reduce(
    (out, [k, v]) => out.split(`{${k}}`).join(String(v)), template);
  return { el, fill };
})();
