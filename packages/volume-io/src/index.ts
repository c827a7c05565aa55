export { type WriteAtomicOptions, writeFileAtomic } from "./atomic.js";
export { dicomImageProblem, readDicom, SLICE_GAP_TOLERANCE, TRANSFER_SYNTAXES } from "./dicom.js";
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
  checkVolumeInput,
  collectOneVolume,
  collectVolumeInputs,
  VOLUME_FILE_EXTENSIONS,
  type VolumeInput,
} from "./inputs.js";
export { MET_TYPES, readMetaImage } from "./metaimage.js";
export {
  checkNiftiHeader,
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
  type VolumeStats,
  volumeStats,
} from "./preprocess.js";
export { detectFormat, readVolume, type VolumeFormat, volumeFromNpy } from "./read.js";
export { type PreprocessingRecord, REFERENCE_PATCH_SIZE, recordFor, validateRecord } from "./record.js";
export {
  type ResampleArrayOptions,
  type ResampleMapping,
  type ResampleTarget,
  resample,
  resampleArray,
} from "./resample.js";
export * from "./volume.js";
export {
  type NonFinitePolicy,
  UNIT_RANGE,
  type WindowOptions,
  windowFunction,
  windowIntensity,
} from "./window.js";
