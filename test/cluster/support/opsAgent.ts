/**
 * The hosted agent of the multi-process tests: "ops", on every runner, with this runner's model and tools.
 *
 * - Its model answers by the request (so any runner continues any conversation): after a function call's
 *   output it says "prod is deployed"; asked to deploy, it calls `deploy`; otherwise it explains, slowly
 *   (one message, a word every 400 ms), so a test can kill its runner mid-stream.
 * - `deploy` needs an approval and appends its target to a file: a call that ran twice shows up as two lines,
 *   whichever processes ran it.
 */
import { appendFileSync } from "node:fs"
import { Effect, Layer, Schema } from "effect"
import { ContextItem, ScriptedModel, Tool, Toolkit } from "@chorus/core"
import type { InferenceRunner } from "@chorus/core"
import { ClusterAgent } from "@chorus/cluster"

/** What "ops" says when it explains, word by word. */
export const explanation = ["half ", "an ", "answer ", "that ", "never ", "finishes ", "because ", "its ", "runner ", "dies"]

const reply = (request: InferenceRunner.Request): ReadonlyArray<ScriptedModel.Step> => {
  const last = request.items.at(-1)
  if (last?._tag === "FunctionCallOutput") return [ScriptedModel.text("prod is deployed")]
  if (last !== undefined && ContextItem.text(last).includes("deploy")) {
    return [ScriptedModel.functionCall("deploy", { target: "prod" }, { callId: "d1" })]
  }
  return [ScriptedModel.text(explanation)]
}

export const opsAgents = (callsFile: string): Record<string, ClusterAgent.Definition> => {
  const deploy = Tool.make("deploy", {
    description: "Deploys",
    parameters: Schema.Struct({ target: Schema.String }),
    approval: "always",
    handler: ({ target }) => Effect.as(Effect.sync(() => appendFileSync(callsFile, `${target}\n`)), `deployed ${target}`)
  })
  const model = ScriptedModel.layer({ turns: [reply], whenExhausted: "repeat-last", latency: "400 millis" })
  return { ops: ClusterAgent.agent(() => ({ id: "ops" }), Layer.merge(model, Toolkit.make(deploy).layer)) }
}
