/**
 * `collectVolumeInputs`: the one function every command uses to turn its file and folder arguments
 * into the volumes it will read. It lives in volume-io because only volume-io knows which files are
 * volumes (`detectFormat`) and what makes a folder a DICOM series (`looksLikeDicom`), and every
 * command already depends on it.
 */
import { readdir, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { dicomImageProblem, looksLikeDicom } from "./dicom.js";
import { VolumeReadError } from "./errors.js";
import { checkNiftiHeader } from "./nifti.js";
import { detectFormat, type VolumeFormat } from "./read.js";

/** One volume found by {@link collectVolumeInputs}; `readVolume(path)` reads it. */
export interface VolumeInput {
  /** The file, or the folder holding the DICOM series. */
  path: string;
  /** `file`: one file (NIfTI, Analyze, MetaImage, `.npy`, a single DICOM file); `dicom-series`: a folder of DICOM slices. */
  kind: "file" | "dicom-series";
  format: VolumeFormat;
}

/** Options of {@link collectVolumeInputs}. */
export interface CollectVolumeInputsOptions {
  /**
   * Search folders below a folder argument too (default true). Without it only a folder's own files
   * count (its volume files, and the folder itself as a DICOM series when it holds DICOM slices).
   */
  recursive?: boolean;
  /**
   * LUNA16 roots (a folder with `subset0` … `subset9`): the subsets to read, `subset{f}/*.mhd`
   * (all present when omitted; LUNA16 folds: train 0–4, validation 5–6, test 7–9).
   */
  folds?: readonly number[];
  /** Take `.npy` files found inside folders (default false: a folder's `.npy` files are often cube sets, not volumes). */
  npyInFolders?: boolean;
  /**
   * Check every input up front, cheaply, so a command fails before any work instead of midway
   * (default false): a folder's DICOM files count as a series only when one of them is a DICOM
   * image (PixelData, Rows × Columns; an RTSTRUCT, SEG-less report or junk `.dcm` alone is passed
   * over like other non-volume files, and named when the folder then holds no volume); a NIfTI's
   * header is read (`checkNiftiHeader`), a single DICOM file must be an image. Voxels are not read.
   */
  check?: boolean;
}

/** Extensions of volume files found by name inside folders (the `.img`/`.raw` of pairs are data files, not volumes). */
export const VOLUME_FILE_EXTENSIONS = [".nii", ".nii.gz", ".hdr", ".mhd", ".mha"] as const;
const DICOM_EXT = [".dcm", ".dicom", ".ima"];

const isVolumeName = (name: string, npy: boolean) => {
  const low = name.toLowerCase();
  return VOLUME_FILE_EXTENSIONS.some((e) => low.endsWith(e)) || (npy && low.endsWith(".npy"));
};

/** A file inside a folder that may be a DICOM slice: `.dcm`/`.dicom`/`.ima`, or no extension (`IM0001`), sniffed. */
async function isDicomSlice(file: string, name: string): Promise<boolean> {
  const ext = extname(name).toLowerCase();
  if (DICOM_EXT.includes(ext)) return true;
  if (ext !== "" && !/^\.\d+$/.test(ext)) return false; // `1.2.840….5` UIDs as names have numeric "extensions"
  return looksLikeDicom(file).catch(() => false);
}

/** What {@link scanFolder} passed over that a user may have meant as a volume (DICOM files without an image). */
type PassedOver = string[];

async function scanFolder(
  dir: string,
  o: Required<Pick<CollectVolumeInputsOptions, "recursive" | "npyInFolders" | "check">>,
  out: VolumeInput[],
  passed: PassedOver,
): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err) => {
    throw new VolumeReadError(dir, `cannot list the folder (${(err as Error).message})`, { cause: err });
  });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: VolumeInput[] = [];
  let dicom = false;
  const dicomFiles: string[] = [];
  const subdirs: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    // symbolic links (datasets are often linked into place) count as what they point to
    const target = e.isSymbolicLink() ? await stat(p).catch(() => null) : e;
    if (!target) continue; // a dangling link is no volume
    if (target.isDirectory()) subdirs.push(p);
    else if (target.isFile()) {
      if (isVolumeName(e.name, o.npyInFolders))
        files.push({ path: p, kind: "file", format: await detectFormat(p) });
      else if (o.check ? await isDicomSlice(p, e.name) : !dicom && (await isDicomSlice(p, e.name))) {
        dicom = true;
        if (o.check) dicomFiles.push(p);
      }
    }
  }
  if (dicom && o.check) {
    // a series must hold at least one DICOM image; stop at the first (one file read for a CT series)
    let why: string | null = null;
    for (const f of dicomFiles) {
      why = await dicomImageProblem(f);
      if (why === null) break;
    }
    if (why !== null) {
      dicom = false;
      passed.push(
        `${dicomFiles.length} DICOM file${dicomFiles.length === 1 ? "" : "s"} in ${dir} but no DICOM image (${dicomFiles[0]}: ${why})`,
      );
    }
  }
  // the series first: it is this folder, its files come after it in name order
  if (dicom) out.push({ path: dir, kind: "dicom-series", format: "dicom" });
  out.push(...files);
  if (o.recursive) for (const d of subdirs) await scanFolder(d, o, out, passed);
}

/**
 * Expand file and folder arguments into the volumes they hold, in argument order (within a folder:
 * name order, a DICOM series before the files beside it, then sub-folders):
 * - a file is one volume of the format `detectFormat` finds (any format `readVolume` reads);
 * - a LUNA16 root (a folder with `subset0` … `subset9`) gives `subset{f}/*.mhd` for `folds`;
 * - any other folder is searched (recursively unless `recursive: false`) for volume files by
 *   extension ({@link VOLUME_FILE_EXTENSIONS}; `.npy` only with `npyInFolders`) and for DICOM
 *   series: each folder that directly holds DICOM slices (`.dcm`, `.dicom`, `.ima`, or files without
 *   an extension that carry the DICOM preamble) is one `dicom-series` input. Other files in
 *   folders (`.raw`, `.img` data files, notes) are not volumes and are passed over.
 *
 * Nothing a caller names is dropped: a path that does not exist, a file of no recognised format,
 * and a folder in which no volume is found are errors. With `check` every input found is checked
 * cheaply (see {@link CollectVolumeInputsOptions.check}), so an unusable one fails here, named,
 * before the caller reads any volume.
 *
 * @throws VolumeReadError naming the path: missing, unrecognised format, unreadable folder, a
 *   folder without any volume, or a LUNA16 fold folder that is missing or cannot be listed; with
 *   `check`, also the file whose header is unreadable (NIfTI) or that is no DICOM image.
 */
export async function collectVolumeInputs(
  paths: readonly string[],
  opts: CollectVolumeInputsOptions = {},
): Promise<VolumeInput[]> {
  const o = {
    recursive: opts.recursive ?? true,
    npyInFolders: opts.npyInFolders ?? false,
    check: opts.check ?? false,
  };
  const out: VolumeInput[] = [];
  for (const input of paths) {
    const passed: PassedOver = [];
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(input);
    } catch (err) {
      throw new VolumeReadError(input, "no such file or folder", { cause: err });
    }
    if (!st.isDirectory()) {
      out.push({ path: input, kind: "file", format: await detectFormat(input) });
      continue;
    }
    const names = await readdir(input);
    const subsets = names.filter((n) => /^subset\d$/.test(n));
    const found: VolumeInput[] = [];
    if (subsets.length > 0) {
      const wanted = opts.folds ?? subsets.map((n) => Number(n.slice(6)));
      for (const f of [...wanted].sort((a, b) => a - b)) {
        if (!names.includes(`subset${f}`))
          throw new VolumeReadError(input, `LUNA16 fold folder subset${f} is missing`);
        const dir = join(input, `subset${f}`);
        const listed = await readdir(dir).catch((err) => {
          throw new VolumeReadError(dir, `cannot list the LUNA16 fold folder (${(err as Error).message})`, {
            cause: err,
          });
        });
        const mhd = listed.filter((n) => n.toLowerCase().endsWith(".mhd")).sort();
        found.push(
          ...mhd.map((n) => ({ path: join(dir, n), kind: "file" as const, format: "metaimage" as const })),
        );
      }
    } else await scanFolder(input, o, found, passed);
    if (found.length === 0)
      throw new VolumeReadError(
        input,
        `no volume found (no ${VOLUME_FILE_EXTENSIONS.join(", ")} file${o.npyInFolders ? " or .npy" : ""} and no DICOM series${o.recursive ? " in it or below" : " in it"}${passed.length > 0 ? `; ${passed[0]}` : ""})`,
      );
    out.push(...found);
  }
  if (o.check) for (const v of out) await checkVolumeInput(v);
  return out;
}

/**
 * The cheap up-front check of one collected input (`collectVolumeInputs({ check: true })`): a NIfTI
 * file's header (`checkNiftiHeader`), a single DICOM file must be a DICOM image. DICOM series are
 * checked while their folder is scanned; MetaImage and `.npy` files are left to their readers.
 * @throws VolumeReadError naming the file and the problem.
 */
export async function checkVolumeInput(v: VolumeInput): Promise<void> {
  if (v.kind !== "file") return;
  if (v.format === "nifti") await checkNiftiHeader(v.path);
  else if (v.format === "dicom") {
    const why = await dicomImageProblem(v.path);
    if (why !== null) throw new VolumeReadError(v.path, why);
  }
}

/**
 * The one volume a path names, for commands that read a single volume (`info`, `predict`): a file,
 * or a folder that holds exactly one volume (typically a DICOM series, possibly in a sub-folder).
 * @throws VolumeReadError naming the path when it holds no volume or several (the message lists them).
 */
export async function collectOneVolume(path: string): Promise<VolumeInput> {
  const found = await collectVolumeInputs([path]);
  if (found.length === 1) return found[0];
  const list = found
    .slice(0, 4)
    .map((f) => f.path)
    .join(", ");
  throw new VolumeReadError(
    path,
    `holds ${found.length} volumes (${list}${found.length > 4 ? ", …" : ""}); name one of them`,
  );
}
