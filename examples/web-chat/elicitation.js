// The web chat's MCP elicitation forms (plain browser JavaScript, no build; served at /assets/elicitation.js).
//
// `ChorusElicitation.form(requestedSchema)` builds the fields of an elicitation's requested schema (a flat object of
// primitive fields, as MCP allows): strings (with their format as the input type), numbers and integers (with their
// bounds), booleans, single-select enums (`enum`, `enum` + `enumNames`, `oneOf` of `{ const, title }`) and
// multi-select enums (`type: "array"` whose `items` have `enum` or `anyOf`), each prefilled with its default.
// `read()` gives the content to send: empty optional fields are left out, so the server fills in their defaults.
// The content is checked by the server (`POST /elicitations` answers 400 with every problem), not here.
"use strict";
(function () {
  function h(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  /** The choices of a single-select enum, or null when the field is not one. */
  function choices(prop) {
    if (!prop || typeof prop !== "object") return null;
    const titled = Array.isArray(prop.oneOf) ? prop.oneOf : Array.isArray(prop.anyOf) ? prop.anyOf : null;
    if (titled) {
      return titled.filter((option) => option && typeof option.const === "string")
        .map((option) => ({ value: option.const, label: typeof option.title === "string" ? option.title : option.const }));
    }
    if (Array.isArray(prop.enum)) {
      const names = Array.isArray(prop.enumNames) ? prop.enumNames : [];
      return prop.enum.map((value, i) => ({ value: String(value), label: typeof names[i] === "string" ? names[i] : String(value) }));
    }
    return null;
  }

  const inputTypes = { email: "email", uri: "url", date: "date", "date-time": "datetime-local" };

  /** One field: its element and how to read its value ({ value } or {} when left empty). */
  function field(name, prop, required) {
    const id = "eli-" + name + "-" + Math.random().toString(36).slice(2, 8);
    const title = (prop && typeof prop.title === "string" && prop.title) || name;
    const label = h("label", { for: id, class: "label" }, [title, required ? h("span", { class: "required", text: " *" }) : ""]);
    const description = prop && typeof prop.description === "string"
      ? h("div", { class: "description", text: prop.description })
      : "";
    const wrap = (control, kind) =>
      h("div", { class: "field", "data-field": name, "data-kind": kind }, [label, control, description]);
    const type = prop && prop.type;

    if (type === "boolean") {
      const box = h("input", { type: "checkbox", id, name, checked: prop.default === true });
      const el = h("div", { class: "field", "data-field": name, "data-kind": "boolean" }, [
        h("label", { class: "check" }, [box, " " + title, required ? h("span", { class: "required", text: " *" }) : ""]),
        description
      ]);
      return { el, read: () => ({ value: box.checked }) };
    }

    if (type === "array") {
      const options = choices(prop.items) || [];
      const defaults = Array.isArray(prop.default) ? prop.default : [];
      const boxes = options.map((option) => h("input", {
        type: "checkbox", name, value: option.value, checked: defaults.includes(option.value)
      }));
      const group = h("div", { class: "choices", id, role: "group" },
        boxes.map((box, i) => h("label", { class: "check" }, [box, " " + options[i].label])));
      return {
        el: wrap(group, "multi-select"),
        read: () => {
          const value = boxes.filter((box) => box.checked).map((box) => box.value);
          return value.length === 0 && !required ? {} : { value };
        }
      };
    }

    const options = choices(prop);
    if (options) {
      const select = h("select", { id, name }, [
        h("option", { value: "", text: required ? "Choose…" : "—" }),
        ...options.map((option) => h("option", { value: option.value, text: option.label, selected: option.value === prop.default }))
      ]);
      return { el: wrap(select, "select"), read: () => (select.value === "" ? {} : { value: select.value }) };
    }

    if (type === "number" || type === "integer") {
      const input = h("input", {
        type: "number", id, name, step: type === "integer" ? "1" : "any",
        min: typeof prop.minimum === "number" ? prop.minimum : undefined,
        max: typeof prop.maximum === "number" ? prop.maximum : undefined,
        value: typeof prop.default === "number" ? prop.default : undefined
      });
      return {
        el: wrap(input, type),
        read: () => {
          const text = input.value.trim();
          if (text === "") return input.validity.badInput ? { value: input.value } : {};
          return { value: Number(text) };
        }
      };
    }

    const input = h("input", {
      type: (prop && inputTypes[prop.format]) || "text", id, name,
      minlength: prop && typeof prop.minLength === "number" ? prop.minLength : undefined,
      maxlength: prop && typeof prop.maxLength === "number" ? prop.maxLength : undefined,
      value: prop && typeof prop.default === "string" ? prop.default : undefined
    });
    return { el: wrap(input, "string"), read: () => (input.value === "" ? {} : { value: input.value }) };
  }

  /** The fields of a requested schema, and how to read the content they hold. */
  function form(schema) {
    const properties = schema && typeof schema.properties === "object" && schema.properties !== null ? schema.properties : {};
    const required = Array.isArray(schema && schema.required) ? schema.required : [];
    const fields = Object.entries(properties).map(([name, prop]) => [name, field(name, prop, required.includes(name))]);
    return {
      el: h("div", { class: "fields" }, fields.map(([, f]) => f.el)),
      read: () => {
        const content = {};
        for (const [name, f] of fields) {
          const read = f.read();
          if ("value" in read) content[name] = read.value;
        }
        return content;
      }
    };
  }

  window.ChorusElicitation = { form };
})();
