/**
 * A debate: two agents with opposite briefs answer each other, a person may
 * interject at any moment, and a judge closes after a fixed number of
 * exchanges. Nothing orchestrates it: each agent reacts to the others'
 * messages as they are published.
 */
import { Effect } from "effect"
import type { Duration, Layer } from "effect"
import { Agent, ContextItem, Environment, Event, InferenceRunner, ScriptedModel } from "@chorus/core"

/** Who is who. */
export const pro = "pro"
export const con = "con"
export const judge = "judge"

/** Options of a debate. */
export interface Options {
  readonly topic: string
  /** Exchanges (one message from each side) before the judge closes. */
  readonly exchanges: number
  /** The model of each participant. */
  readonly models: {
    readonly pro: Layer.Layer<InferenceRunner.InferenceRunner>
    readonly con: Layer.Layer<InferenceRunner.InferenceRunner>
    readonly judge: Layer.Layer<InferenceRunner.InferenceRunner>
  }
}

const isHuman = (message: ContextItem.Message) => message.author !== pro && message.author !== con && message.author !== judge

/**
 * Joins the three agents to the environment in context. Returns an effect
 * that completes with the judge's verdict.
 */
export const start = (options: Options) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    const cap = options.exchanges
    // pro opens and answers con's first cap - 1 messages; con answers all of pro's: cap messages each.
    const heard = { pro: 0, con: 0 }
    const debater = (id: typeof pro | typeof con, opponent: string, brief: string, answers: number) =>
      Agent.make({
        id,
        instructions: `You are debating "${options.topic}". ${brief} Answer your opponent in two or three sentences. ` +
          "If a person from the audience interjects, address their point briefly.",
        // The opponent's arguments and the audience's interjections; never the judge.
        reactTo: (message) =>
          message._tag === "ModelMessage"
            ? message.author === opponent && ++heard[id] <= answers
            : isHuman(message) && (message.author !== "moderator" || id === pro),
        exchangeCap: cap,
        resume: false
      })
    yield* env.join(debater(pro, con, "Argue FOR the motion.", cap - 1)).pipe(Effect.provide(options.models.pro))
    yield* env.join(debater(con, pro, "Argue AGAINST the motion.", cap)).pipe(Effect.provide(options.models.con))
    let conMessages = 0
    yield* env.join(Agent.make({
      id: judge,
      instructions: `You judge a debate on "${options.topic}". Weigh both sides and the audience's points, then give a verdict.`,
      // The judge speaks once, after both sides have spoken `exchanges` times.
      reactTo: (message) => message._tag === "ModelMessage" && message.author === con && ++conMessages === cap,
      exchangeCap: 1,
      resume: false
    })).pipe(Effect.provide(options.models.judge))
    return env.waitFor((event): event is Event.Event =>
      event.payload._tag === "ItemDone" && event.author === judge && event.payload.item._tag === "ModelMessage")
  })

/** The scripted sides' arguments, about the topic they are given. */
const arguments_ = (topic: string) => ({
  pro: [
    `"${topic}": yes, because of what it gives people back, time, focus and a choice in how they work.`,
    `Those who doubt that ${lowerFirst(topic)} underestimate how fast habits adapt once the gains are plain to see.`,
    `In the end ${lowerFirst(topic)}, because its costs are visible and fixable while its gains add up.`
  ],
  con: [
    `"${topic}" sounds right, but it forgets what is lost on the way, the things nobody measures.`,
    `The gains claimed for the idea that ${lowerFirst(topic)} go to a few; the costs fall on everyone else.`,
    `Before agreeing that ${lowerFirst(topic)}, ask who has to change their life for it, and whether they agreed.`
  ]
})

const lowerFirst = (text: string) => text.charAt(0).toLowerCase() + text.slice(1)

/** Scripted debaters and judge, for runs without an API key; a debater answers the audience when it interjects. */
export const scriptedModels = (topic: string, latency: Duration.DurationInput) =>
  Effect.gen(function*() {
    const points = arguments_(topic)
    const reply = (side: typeof pro | typeof con) => (request: InferenceRunner.Request) => {
      const own = request.items.filter((item) => item._tag === "ModelMessage").length
      // An audience question this side has not answered yet (no own message after it).
      const lastOwn = request.items.map((item) => item._tag).lastIndexOf("ModelMessage")
      const question = request.items.slice(lastOwn + 1).find((item) =>
        item._tag === "UserMessage" && item.author !== pro && item.author !== con && item.author !== "moderator")
      const point = points[side][own % points[side].length] ?? ""
      return [ScriptedModel.text(
        question === undefined ? point : `To the audience ("${ContextItem.text(question).replace(/^[^:]+: /, "")}"): fair, yet ${lowerFirst(point)}`
      )]
    }
    const make = (turn: ScriptedModel.Turn) =>
      Effect.map(ScriptedModel.make({ turns: [turn], whenExhausted: "repeat-last", latency }), (model) => model.layer)
    return {
      pro: yield* make(reply(pro)),
      con: yield* make(reply(con)),
      judge: yield* make((request) => [
        ScriptedModel.reasoning("Weighing both sides"),
        ScriptedModel.text(
          `Verdict on "${topic}" after ${request.items.filter((item) => item._tag === "UserMessage").length} contributions: a close call, narrowly won by pro.`
        )
      ])
    }
  })
