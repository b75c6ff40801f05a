// The preprocessors only (no onnxruntime): the gateway uses them for /controlnet/detect.
export { canny, toGray } from './canny';
export { controlMap, controlMapPng, type ControlMap } from './control-image';
