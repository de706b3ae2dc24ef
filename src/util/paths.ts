import path from "node:path";

/** True when `child` is `parent` itself or lies inside it (both taken as given; resolve them first). */
export function isInside(child: string, parent: string): boolean {
  const relative = path.relative(parent, child);
  return relative === "" || (relative !== ".." && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}
