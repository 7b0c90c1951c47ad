import { TestRunner } from "@effect/cluster"
import { ClusterEnvironment, Journals } from "@chorus/cluster"
import { Layer, TestClock } from "effect"
import { behaviour } from "../core/Environment.behaviour.js"

let environments = 0
// Under TestClock the test runner's sharding waits for one tick before it accepts messages.
const tick = Layer.effectDiscard(TestClock.adjust(1))
const clustered = () =>
  ClusterEnvironment.layer(`environment-${++environments}`).pipe(
    Layer.provide(tick),
    Layer.provide(ClusterEnvironment.layerEntity().pipe(Layer.provide(Journals.layerMemory), Layer.provideMerge(TestRunner.layer)))
  )

behaviour("clustered (one test runner, journals in memory)", clustered, "clustered")
