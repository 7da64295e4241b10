import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { FieldErrors } from '#common/errors.js';

// ajv-formats is CommonJS with a `default` property; ESM sees the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;

type Messages = Record<string, (e: ErrorObject) => string>;

const MESSAGES: Record<string, Messages> = {
  en: {
    required: () => 'is required',
    type: (e) => `must be ${e.params.type === 'integer' ? 'a whole number' : `of type ${e.params.type}`}`,
    minimum: (e) => `must be at least ${e.params.limit}`,
    maximum: (e) => `must be at most ${e.params.limit}`,
    minLength: (e) => `must have at least ${e.params.limit} characters`,
    maxLength: (e) => `must have at most ${e.params.limit} characters`,
    enum: (e) => `must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}`,
    pattern: (e) => `must match the pattern ${e.params.pattern}`,
    format: (e) => `must be a valid ${e.params.format}`,
    additionalProperties: () => 'is not a parameter of this script',
    uniqueItems: () => 'must not repeat a choice',
  },
  es: {
    required: () => 'es obligatorio',
    type: (e) => `debe ser ${e.params.type === 'integer' ? 'un número entero' : `de tipo ${e.params.type}`}`,
    minimum: (e) => `debe ser como mínimo ${e.params.limit}`,
    maximum: (e) => `debe ser como máximo ${e.params.limit}`,
    minLength: (e) => `debe tener al menos ${e.params.limit} caracteres`,
    maxLength: (e) => `debe tener como máximo ${e.params.limit} caracteres`,
    enum: (e) => `debe ser uno de: ${(e.params.allowedValues as unknown[]).join(', ')}`,
    pattern: (e) => `debe coincidir con el patrón ${e.params.pattern}`,
    format: (e) => `debe ser un ${e.params.format} válido`,
    additionalProperties: () => 'no es un parámetro de este script',
    uniqueItems: () => 'no debe repetir una opción',
  },
  it: {
    required: () => 'è obbligatorio',
    type: (e) => `deve essere ${e.params.type === 'integer' ? 'un numero intero' : `di tipo ${e.params.type}`}`,
    minimum: (e) => `deve essere almeno ${e.params.limit}`,
    maximum: (e) => `deve essere al massimo ${e.params.limit}`,
    minLength: (e) => `deve avere almeno ${e.params.limit} caratteri`,
    maxLength: (e) => `deve avere al massimo ${e.params.limit} caratteri`,
    enum: (e) => `deve essere uno tra: ${(e.params.allowedValues as unknown[]).join(', ')}`,
    pattern: (e) => `deve corrispondere al modello ${e.params.pattern}`,
    format: (e) => `deve essere un ${e.params.format} valido`,
    additionalProperties: () => 'non è un parametro di questo script',
    uniqueItems: () => 'non deve ripetere una scelta',
  },
  fr: {
    required: () => 'est obligatoire',
    type: (e) => `doit être ${e.params.type === 'integer' ? 'un nombre entier' : `de type ${e.params.type}`}`,
    minimum: (e) => `doit être au moins ${e.params.limit}`,
    maximum: (e) => `doit être au plus ${e.params.limit}`,
    minLength: (e) => `doit avoir au moins ${e.params.limit} caractères`,
    maxLength: (e) => `doit avoir au plus ${e.params.limit} caractères`,
    enum: (e) => `doit être l'une des valeurs : ${(e.params.allowedValues as unknown[]).join(', ')}`,
    pattern: (e) => `doit correspondre au motif ${e.params.pattern}`,
    format: (e) => `doit être un ${e.params.format} valide`,
    additionalProperties: () => "n'est pas un paramètre de ce script",
    uniqueItems: () => 'ne doit pas répéter un choix',
  },
};

const INVALID: Record<string, string> = { en: 'is invalid', es: 'no es válido', it: 'non è valido', fr: "n'est pas valide" };

/** Validates run parameters against a script's JSON Schema, reporting every problem per field. */
export class ParameterValidator {
  private readonly ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: false });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor() {
    addFormats(this.ajv);
  }

  /** Fills defaults into `parameters` and returns the problems, empty when valid. */
  validate(schemaJson: string, parameters: Record<string, unknown>, language: string): FieldErrors {
    let validate = this.compiled.get(schemaJson);
    if (!validate) {
      validate = this.ajv.compile(JSON.parse(schemaJson) as object) as ValidateFunction;
      if (this.compiled.size > 500) this.compiled.clear();
      this.compiled.set(schemaJson, validate);
    }
    if (validate(parameters)) return {};
    const messages = MESSAGES[language] ?? MESSAGES.en;
    const fields: FieldErrors = {};
    for (const error of validate.errors ?? []) {
      const field =
        (error.params.missingProperty as string | undefined) ??
        (error.params.additionalProperty as string | undefined) ??
        (error.instancePath.split('/')[1] || '(parameters)');
      fields[field] ??= messages[error.keyword]?.(error) ?? INVALID[language] ?? INVALID.en;
    }
    return fields;
  }
}
