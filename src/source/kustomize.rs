//! `kustomize-images`: `images[]` of a kustomization, name -> `newTag` (or `digest`).

use super::{Inventory, Locator, yaml_component};
use crate::edit::{EditError, yaml};

pub fn read(_loc: &Locator, file: &str, text: &str) -> Result<Inventory, EditError> {
    let mut components = Vec::new();
    let mut notes = Vec::new();
    for doc in yaml::parse(file, text)? {
        for (i, image) in doc
            .get("images")
            .map(yaml::Node::items)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let Some(name) = image.get("name").and_then(yaml::Node::as_str) else {
                notes.push(format!(
                    "{file}:{}: image {i} has no `name`, skipped",
                    image.line
                ));
                continue;
            };
            let (field, node) = match (image.get("newTag"), image.get("digest")) {
                (Some(tag), _) => ("newTag", tag),
                (None, Some(digest)) => ("digest", digest),
                (None, None) => {
                    notes.push(format!(
                        "{file}:{}: image `{name}` sets no `newTag`, skipped",
                        image.line
                    ));
                    continue;
                }
            };
            let address = format!("images[{i}].{field}");
            components.push(yaml_component(file, name.to_string(), node, address)?);
        }
    }
    Ok(Inventory {
        file: file.to_string(),
        components,
        notes,
    })
}
