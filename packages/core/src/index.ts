/**
 * @chorus/core — context items, events, the environment, participants,
 * generators, tools and reducers.
 *
 * @since 0.1.0
 */
export * as ContextItem from "./ContextItem.js"
export * as Agent from "./Agent.js"
export * as Environment from "./Environment.js"
export * as Event from "./Event.js"
export * as FunctionCallRunner from "./FunctionCallRunner.js"
export * as InferenceRunner from "./InferenceRunner.js"
export * as InputStream from "./InputStream.js"
export * as Journal from "./Journal.js"
export * as Participant from "./Participant.js"
export * as Reducer from "./Reducer.js"
export * as Tool from "./Tool.js"
export * as Toolkit from "./Toolkit.js"
export * as ScriptedModel from "./ScriptedModel.js"
export * as Activity from "./Activity.js"
export * as Commands from "./Commands.js"
export * as Human from "./Human.js"
export * as Transcript from "./Transcript.js"
export * as Elicitation from "./Elicitation.js"
