/** Types of build-state.mjs (plain JavaScript: the `daggr` command runs it before dist/ may exist). */
export type Staleness = { built: false } | { built: true; file: string; forced?: undefined } | { built: true; forced: true; file?: undefined };
export declare const STAMP: string;
export declare const INPUTS: readonly string[];
export declare function isSourceCheckout(root: string): boolean;
export declare function staleness(root: string): Staleness | undefined;
export declare function lastBuildMs(root: string): number | undefined;
export declare function rebuildNotice(root: string, why: Staleness): string;
export declare function staleMessage(root: string, why: Staleness, cause?: string, or?: string): string;
export declare class StaleBuildError extends Error {
  code: "E_STALE_BUILD";
}
export declare function rebuild(root: string, options?: { force?: boolean; say?: (line: string) => void }): Promise<boolean>;
