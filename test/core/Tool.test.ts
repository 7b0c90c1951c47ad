// Tool.make refuses, naming the tool, what a model would reject, and says when strict mode is off and why.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Tool } from "@chorus/core"

const handler = () => Effect.void

/** The ToolDefinitionError that defining the tool throws. */
const refusal = (define: () => unknown): Tool.ToolDefinitionError => {
  try {
    define()
  } catch (error) {
    assert.instanceOf(error, Tool.ToolDefinitionError)
    return error as Tool.ToolDefinitionError
  }
  return assert.fail("the tool was accepted")
}

describe("Tool.make", () => {
  it("refuses parameters that are not an object schema, naming the tool", () => {
    const error = refusal(() => Tool.make("count", { description: "", parameters: Schema.Number, handler }))
    assert.strictEqual(error.tool, "count")
    assert.include(error.message, `Tool "count": its parameters must be an object schema`)
    assert.include(error.message, `{"type":"number"}`)
  })

  it("refuses a union of objects (a model's arguments are one JSON object)", () => {
    const error = refusal(() =>
      Tool.make("either", {
        description: "",
        parameters: Schema.Union(Schema.Struct({ a: Schema.String }), Schema.Struct({ b: Schema.String })),
        handler
      })
    )
    assert.include(error.message, `Tool "either": its parameters must be an object schema`)
  })

  it("refuses parameters that cannot become JSON Schema, naming the tool and the field", () => {
    const error = refusal(() =>
      Tool.make("schedule", { description: "", parameters: Schema.Struct({ at: Schema.DateFromSelf }), handler })
    )
    assert.strictEqual(error._tag, "ToolDefinitionError")
    assert.include(error.message, `Tool "schedule": its parameters cannot become JSON Schema`)
    assert.include(error.message, `["at"]`)
    assert.notInclude(error.message, "\n")
  })

  it("an optional field turns strict off and the definition says why", () => {
    const tool = Tool.make("read", {
      description: "",
      parameters: Schema.Struct({ path: Schema.String, depth: Schema.optional(Schema.Number) }),
      handler
    })
    assert.isFalse(tool.definition.strict)
    assert.include(tool.definition.nonStrictReason ?? "", `"depth" is optional`)
    assert.include(tool.definition.nonStrictReason ?? "", "Schema.NullOr")
  })

  it("a nested open record turns strict off and names where", () => {
    const tool = Tool.make("tag", {
      description: "",
      parameters: Schema.Struct({ meta: Schema.Struct({ labels: Schema.Record({ key: Schema.String, value: Schema.String }) }) }),
      handler
    })
    assert.isFalse(tool.definition.strict)
    assert.include(tool.definition.nonStrictReason ?? "", `"meta.labels" accepts any property name`)
  })

  it("strict: true refuses parameters strict mode cannot take", () => {
    const error = refusal(() =>
      Tool.make("read", {
        description: "",
        parameters: Schema.Struct({ depth: Schema.optional(Schema.Number) }),
        strict: true,
        handler
      })
    )
    assert.include(error.message, `Tool "read": it asks for strict mode, but "depth" is optional`)
  })

  it("strict: false turns it off and says so", () => {
    const tool = Tool.make("add", {
      description: "",
      parameters: Schema.Struct({ a: Schema.Number }),
      strict: false,
      handler
    })
    assert.isFalse(tool.definition.strict)
    assert.strictEqual(tool.definition.nonStrictReason, "turned off by the tool's options")
  })

  it("an empty struct is a tool without parameters: a closed empty object, strict", () => {
    const tool = Tool.make("now", { description: "", parameters: Schema.Struct({}), handler })
    assert.deepStrictEqual(tool.definition.parameters, { type: "object", properties: {}, required: [], additionalProperties: false })
    assert.isTrue(tool.definition.strict)
  })

  it("closed objects with required (nullable) fields are strict, with no reason given", () => {
    class Params extends Schema.Class<Params>("Params")({ path: Schema.String, depth: Schema.NullOr(Schema.Number) }) {}
    const tool = Tool.make("list", { description: "", parameters: Params, handler })
    assert.isTrue(tool.definition.strict)
    assert.isUndefined(tool.definition.nonStrictReason)
    assert.strictEqual(tool.definition.parameters.type, "object")
  })
})
