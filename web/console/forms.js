// Forms generated from JSON Schema (the processors' config models, the tenant's storage and API settings).
import { h, prose } from "./dom.js";

export function resolve(schema, defs) {
  if (schema?.$ref) return resolve(defs[schema.$ref.split("/").pop()], defs);
  const options = schema?.anyOf || schema?.oneOf;
  if (options) {
    const real = options.filter((option) => option.type !== "null");
    if (real.length === 1) return { ...resolve(real[0], defs), nullable: true, ...pick(schema) };
  }
  return schema;
}

export function pick(schema) {
  const kept = {};
  for (const name of ["title", "description", "default"]) if (name in schema) kept[name] = schema[name];
  return kept;
}

// One input for one property. Returns {element, read}: read() gives the value to send, or undefined when the
// field is left at its default (the document then holds only what the operator chose).
export function field(name, raw, defs, path, registerPath) {
  const schema = resolve(raw, defs);
  const id = `f-${path.replace(/[^a-zA-Z0-9]+/g, "-")}`;
  const title = schema.title || name;
  const hint = schema.description ? h("small", { class: "of-hint" }, prose(schema.description)) : null;
  const error = h("div", { class: "of-field-error", id: `${id}-error`, role: "alert", hidden: true });
  let input;
  let read;
  const itemEnum = schema.type === "array" ? resolve(schema.items || {}, defs).enum : null;
  if (schema.type === "boolean") {
    input = h("input", { id, type: "checkbox", checked: schema.default === true });
    read = () => (input.checked === (schema.default === true) ? undefined : input.checked);
  } else if (schema.enum) {
    input = h(
      "select",
      { id },
      h("option", { value: "" }, `(default${schema.default !== undefined ? `: ${schema.default}` : ""})`),
      schema.enum.map((value) => h("option", { value }, value)),
    );
    read = () => input.value || undefined;
  } else if (itemEnum) {
    const boxes = itemEnum.map((value) => h("input", { type: "checkbox", value, id: `${id}-${value}` }));
    input = h(
      "div",
      { id, class: "of-choices", role: "group", "aria-label": title },
      boxes.map((box) => h("label", { class: "of-choice" }, box, ` ${box.value}`)),
    );
    read = () => {
      const chosen = boxes.filter((box) => box.checked).map((box) => box.value);
      return chosen.length ? chosen : undefined;
    };
  } else if (schema.type === "array" && resolve(schema.items || {}, defs).type === "string") {
    input = h("textarea", { id, rows: 2, placeholder: "one per line" });
    read = () => {
      const items = input.value.split(/[\n,]/).map((item) => item.trim()).filter(Boolean);
      return items.length ? items : undefined;
    };
  } else if (schema.type === "integer" || schema.type === "number" || schema.type === "string") {
    const placeholder = schema.default !== undefined && schema.default !== null ? String(schema.default) : "";
    input = h("input", { id, type: "text", placeholder, inputmode: schema.type === "string" ? null : "numeric" });
    read = () => {
      const text = input.value.trim();
      if (!text) return undefined;
      // A number field sends a number when the text is one, else the text itself: the server says what is wrong.
      return schema.type !== "string" && /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
    };
  } else {
    input = h("textarea", { id, rows: 2, placeholder: "JSON" });
    read = () => {
      const text = input.value.trim();
      if (!text) return undefined;
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    };
  }
  if (error) input.setAttribute("aria-describedby", `${id}-error`);
  registerPath(path, error);
  const label = schema.type === "boolean" ? h("label", { for: id }, input, ` ${title}`) : h("label", { for: id }, title);
  const element = h(
    "div",
    { class: "of-field", dataset: { path } },
    label,
    schema.type === "boolean" ? null : input,
    hint,
    error,
  );
  return { element, read };
}

export function objectForm(schema, pathOf, registerPath) {
  const defs = schema.$defs || {};
  const fields = Object.entries(schema.properties || {}).map(([name, property]) => ({
    name,
    ...field(name, property, defs, pathOf(name), registerPath),
  }));
  return {
    element: h("div", { class: "of-fields" }, fields.map((f) => f.element)),
    read: () => {
      const value = {};
      for (const f of fields) {
        const v = f.read();
        if (v !== undefined) value[f.name] = v;
      }
      return value;
    },
  };
}
