export { type WriteAtomicOptions, writeFileAtomic } from "./atomic.js";
export { readDicom, SLICE_GAP_TOLERANCE, TRANSFER_SYNTAXES } from "./dicom.js";
export { errorReason, VolumeReadError, VolumeValueError } from "./errors.js";
export {
  affineOf,
  affineToQuatern,
  axisAssignment,
  type Geometry,
  geometryFromAffine,
  identity3,
  lpsToRas,
  orientationCode,
  parseOrientationCode,
  type Quatern,
  quaternToAffine,
  rasToLps,
} from "./geometry.js";
export {
  type CollectVolumeInputsOptions,
  collectOneVolume,
  collectVolumeInputs,
  VOLUME_FILE_EXTENSIONS,
  type VolumeInput,
} from "./inputs.js";
export { MET_TYPES, readMetaImage } from "./metaimage.js";
export {
  encodeNifti,
  NIFTI_DATATYPES,
  NIFTI_EXTENSION_CODES,
  type NiftiExtension,
  type ReadOptions,
  readNifti,
  warningSink,
  writeNifti,
} from "./nifti.js";
export { encodeNpy, fortranToC, type NpyArray, type NpyData, parseNpy, readNpy, writeNpy } from "./npy.js";
export {
  CT_WINDOW,
  countNonFinite,
  cropOrPad,
  type IntensityWindow,
  MRI_WINDOW,
  reorientToCanonical,
  resampleToSpacing,
  type VolumeStats,
  volumeStats,
  windowToUnit,
} from "./preprocess.js";
export { detectFormat, readVolume, type VolumeFormat, volumeFromNpy } from "./read.js";
export type { PreprocessingRecord } from "./record.js";
export * from "./volume.js";
