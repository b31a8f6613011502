/**
 * The newest object of each class that a run makes and then drops, kept by its session.
 *
 * V8 holds its hidden classes (maps) weakly: a full GC that finds no object of one frees
 * it and discards the optimised code made for it ("weak objects" deopts). Between two runs
 * no Execution, Call, CallContext, Active or PlanRun is left, so a full GC there (an idle
 * server's memory reducer, a forced `gc()`) made the next runs slow until re-optimised: a
 * run of a 1,000-node graph took 38, 37 and 18 ms after one, 8 ms before. One object of
 * each, kept while the session is open, keeps the maps and the code that uses them.
 */
export class Kept {
  plan: object | undefined = undefined;
  active: object | undefined = undefined;
  execution: object | undefined = undefined;
  call: object | undefined = undefined;
  context: object | undefined = undefined;
}
