// DPM++ 2M SDE Heun: A1111's name for sample_dpmpp_2m_sde with solver_type 'heun'.
import { dpmpp2mSde } from './dpmpp-2m-sde';
import type { KSampler } from './sampler-run';

export const sampleDpmpp2mSdeHeun: KSampler = dpmpp2mSde('heun');
